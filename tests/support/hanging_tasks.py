"""The ``tasks`` consumer with a handler that hangs, for killing its process mid-handler.

Run as ``taskhook consume tests.support.hanging_tasks:consumer``. ``HANG`` says where the handler
stops: ``before-commit`` (nothing written yet) or ``after-commit`` (written, not yet acked). It
touches ``HANG_MARKER`` once it got there, so the test knows when to kill it. With ``HANG_BATCH``
set, the batch handler is the one that hangs (the tasks consumer takes its events in batches).
"""

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from taskhook.consumers import Running
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import open_tasks, tasks
from taskhook.tasks.statements import Recorded


@asynccontextmanager
async def open_hanging(settings: ConsumerSettings) -> AsyncIterator[Running[Recorded]]:
    hang_after_commit = os.environ["HANG"] == "after-commit"
    marker = Path(os.environ["HANG_MARKER"])
    async with open_tasks(settings) as running:

        async def record_then_hang(event: Recorded) -> None:
            if hang_after_commit:
                await running.handler(event)
            await hang()

        async def record_batch_then_hang(events: Sequence[Recorded]) -> None:
            if hang_after_commit and running.batch is not None:
                await running.batch(events)
            await hang()

        async def hang() -> None:
            await asyncio.to_thread(marker.touch)
            await asyncio.Event().wait()  # until killed

        batch = record_batch_then_hang if os.environ.get("HANG_BATCH") else None
        yield Running(record_then_hang, batch=batch)


consumer = replace(tasks, name=os.environ.get("HANG_CONSUMER_NAME", "hanging"), open=open_hanging)
