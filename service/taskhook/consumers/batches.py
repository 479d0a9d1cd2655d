"""Messages gathered into batches, in delivery order, one batch handled at a time.

A batch is what has arrived, up to ``size``: when fewer are there, it waits once, ``wait_s``, for
more, so a quiet queue costs one short delay and a busy one none. One batch at a time is what
lets the runner acknowledge a batch with a single ``multiple`` ack: every message delivered
before the batch's last one is settled by then, in this batch or an earlier one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batches(Generic[T]):
    """Hands what ``put`` receives to ``handle`` in batches, until closed or abandoned.

    ``handle`` must settle every item of its batch. If it raises nonetheless, some items may be
    left unsettled, and a later ``multiple`` ack would take them along: so no further batch is
    handled, and ``broken`` is called (the runner drops the channel, and the broker delivers
    every unsettled message again).
    """

    def __init__(
        self,
        handle: Callable[[list[T]], Awaitable[None]],
        *,
        size: int,
        wait_s: float,
        broken: Callable[[], object],
    ) -> None:
        self._handle = handle
        self._size = size
        self._wait_s = wait_s
        self._broken = broken
        self._waiting: asyncio.Queue[T] = asyncio.Queue()
        self._gathered: list[T] = []
        self._handling = False
        self.closed = False
        self._task = asyncio.create_task(self._run(), name="consumer-batches")

    def put(self, item: T) -> None:
        self._waiting.put_nowait(item)

    def close(self) -> list[T]:
        """Take no more; what was not handed over yet, in delivery order.

        A batch being handled goes on to its end: the caller waits for it (with its grace).
        """
        self.closed = True
        if not self._handling:
            self._task.cancel()
        left, self._gathered = self._gathered, []
        while not self._waiting.empty():
            left.append(self._waiting.get_nowait())
        return left

    def abandon(self) -> int:
        """Stop at once, the batch in hand too: how many not handed over were dropped."""
        self._task.cancel()
        return len(self.close())

    async def _run(self) -> None:
        while not self.closed:
            await self._gather()
            batch, self._gathered = self._gathered, []
            self._handling = True
            try:
                await self._handle(batch)
            except Exception as e:  # a bug of ours: stop before an ack takes its leftovers along
                log.error("a batch was not settled", extra={"error": type(e).__name__})
                self.closed = True
                self._broken()
            finally:
                self._handling = False

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
