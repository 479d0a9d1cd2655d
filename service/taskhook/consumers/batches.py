"""Messages gathered into batches, in delivery order, one batch handled at a time.

A batch is what has arrived, up to ``size``: when fewer are there, it waits once, ``wait_s``, for
more, so a quiet queue costs one short delay and a busy one none. One batch at a time is what
lets the runner acknowledge a batch with a single ``multiple`` ack: every message delivered
before the batch's last one is settled by then, in this batch or an earlier one.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batches(Generic[T]):
    """Hands what ``put`` receives to ``handle`` in batches, until closed.

    ``handle`` settles every item of its batch, whatever happens; if it raises nonetheless, the
    error is logged and the next batch is handled (the items it left are redelivered when the
    connection closes).
    """

    def __init__(
        self, handle: Callable[[list[T]], Awaitable[None]], *, size: int, wait_s: float
    ) -> None:
        self._handle = handle
        self._size = size
        self._wait_s = wait_s
        self._waiting: asyncio.Queue[T] = asyncio.Queue()
        self._gathered: list[T] = []
        self._handling = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name="consumer-batches")

    def put(self, item: T) -> None:
        self._waiting.put_nowait(item)

    async def close(self) -> list[T]:
        """Stop after the batch in hand; what was not handled, in delivery order."""
        async with self._handling:  # the batch in hand is finished first
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        left, self._gathered = self._gathered, []
        while not self._waiting.empty():
            left.append(self._waiting.get_nowait())
        return left

    def abandon(self) -> int:
        """Stop at once (the connection is gone, and with it every ack): how many were dropped."""
        self._task.cancel()
        dropped = len(self._gathered) + self._waiting.qsize()
        self._gathered = []
        return dropped

    async def _run(self) -> None:
        while True:
            await self._gather()
            async with self._handling:
                batch, self._gathered = self._gathered, []
                try:
                    await self._handle(batch)
                except Exception as e:  # handle settles everything; this is a bug of ours
                    log.error("a batch was not settled", extra={"error": type(e).__name__})

    async def _gather(self) -> None:
        self._gathered.append(await self._waiting.get())
        waited = False
        while len(self._gathered) < self._size:
            if self._waiting.empty():
                if waited or not self._wait_s:
                    return
                await asyncio.sleep(self._wait_s)
                waited = True
                continue
            self._gathered.append(self._waiting.get_nowait())
