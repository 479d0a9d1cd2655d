# my_consumers.py
import logging

from taskhook.consumers import PermanentError, TaskEvent, consumer

log = logging.getLogger("my_consumers")


@consumer("finished-uploads", "task.completed.upload")
async def announce_upload(event: TaskEvent) -> None:
    """Say which asset each finished upload produced."""
    asset_id = event.task.output_asset_id
    if asset_id is None:  # never will have one: park it in the dead queue now
        raise PermanentError("a completed upload without an output asset")
    log.info("upload finished", extra={"task_id": event.task.id, "asset_id": asset_id})
