"""Publishing each event once per process, however often and however concurrently it arrives.

Livepeer resends an event until it gets a 2xx, and may send it again later anyway. This keeps a
bounded memory of events the broker confirmed, and makes concurrent arrivals of one event share
a single publish. It is per process: across replicas delivery stays at-least-once, and consumers
dedupe by ``message_id``.
"""

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable, Hashable

from cachetools import TTLCache

# Livepeer retries for about 24 h; remembering a little longer covers its whole schedule.
REMEMBER_FOR_S = 25 * 3600


class Outcome(enum.Enum):
    PUBLISHED = "accepted"
    DUPLICATE = "duplicate"


class PublishOnce:
    """Runs a publish for a key at most once while it is remembered, and once at a time."""

    def __init__(
        self,
        capacity: int,
        *,
        remember_for_s: float = REMEMBER_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._confirmed: TTLCache[Hashable, bool] | None = (
            TTLCache(maxsize=capacity, ttl=remember_for_s, timer=clock) if capacity else None
        )
        self._pending: dict[Hashable, asyncio.Task[None]] = {}

    async def run(self, key: Hashable, publish: Callable[[], Awaitable[None]]) -> Outcome:
        """Publish unless ``key`` was confirmed before; join a publish of ``key`` in progress.

        Every caller waiting on the same publish gets its outcome, including its exception. The
        publish runs in its own task, so a caller that goes away does not cancel it for the rest.
        """
        if self._confirmed is not None and key in self._confirmed:
            return Outcome.DUPLICATE
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.create_task(self._publish(key, publish))
            self._pending[key] = pending
        await asyncio.shield(pending)
        return Outcome.PUBLISHED

    async def wait_idle(self) -> None:
        """Wait until every publish in progress has finished, however it ended."""
        if self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

    @property
    def in_progress(self) -> int:
        return len(self._pending)

    async def _publish(self, key: Hashable, publish: Callable[[], Awaitable[None]]) -> None:
        try:
            await publish()
            if self._confirmed is not None:
                self._confirmed[key] = True
        finally:
            del self._pending[key]
