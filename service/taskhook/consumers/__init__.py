"""Reacting to what taskhook publishes: declare a consumer, and the toolkit runs it.

::

    from taskhook.consumers import AssetEvent, TaskEvent, consumer

    @consumer("audit", "task.completed.*", "task.failed.#")
    async def audit(event: TaskEvent) -> None:
        ...

    @consumer("ready-assets", "asset.ready")
    async def publish_video(event: AssetEvent) -> None:
        ...

A handler reads what it may need from the message itself (headers, the attempt, whether it was
reconciled or replayed) with ``current_delivery()``. Run it with
``taskhook consume package.module:audit`` (or by name, once registered under the
``taskhook.consumers`` entry point group).
"""

from taskhook.consumers.consumer import (
    Consumer,
    Handler,
    PermanentError,
    Running,
    TransientError,
    consumer,
)
from taskhook.consumers.delivery_info import (
    DeliveryInfo,
    current_deliveries,
    current_delivery,
)
from taskhook.consumers.events import (
    AnyEvent,
    AssetEvent,
    MultistreamEvent,
    OtherEvent,
    PlaybackEvent,
    RecordingEvent,
    StreamEvent,
    TaskEvent,
)

__all__ = [
    "AnyEvent",
    "AssetEvent",
    "Consumer",
    "DeliveryInfo",
    "Handler",
    "MultistreamEvent",
    "OtherEvent",
    "PermanentError",
    "PlaybackEvent",
    "RecordingEvent",
    "Running",
    "StreamEvent",
    "TaskEvent",
    "TransientError",
    "consumer",
    "current_deliveries",
    "current_delivery",
]
