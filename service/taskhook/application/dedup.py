"""Publishing each event once per process, however often and however concurrently it arrives.

Livepeer resends an event until it gets a 2xx, and may send it again later anyway. This keeps a
bounded memory of events the broker confirmed, and makes concurrent arrivals of one event share
a single publish. It is per process: across replicas delivery stays at-least-once, and consumers
dedupe by ``message_id``.
"""

import asyncio
import enum
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

# Livepeer retries for about 24 h; remembering a little longer covers its whole schedule.
REMEMBER_FOR_S = 25 * 3600


class Outcome(enum.Enum):
    PUBLISHED = "accepted"
    DUPLICATE = "duplicate"


class Remembered:
    """Keys kept for a fixed time, at most ``capacity`` of them; the oldest go first.

    Every key lives equally long, so insertion order is also expiry order: forgetting is a pop
    from the front. The store holds only strings and floats, which the garbage collector never
    has to walk (a general TTL cache keeps a linked-list object per key: at thousands of events
    a second, collecting those cost more than validating the events).
    """

    def __init__(self, capacity: int, ttl_s: float, clock: Callable[[], float]) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        expires = self._expiry.get(key)
        return expires is not None and expires > self._clock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str) -> None:
        now = self._clock()
        self._expiry[key] = now + self._ttl_s
        self._expiry.move_to_end(key)
        while self._expiry and (
            len(self._expiry) > self._capacity or next(iter(self._expiry.values())) <= now
        ):
            self._expiry.popitem(last=False)


class PublishOnce:
    """Runs a publish for a key at most once while it is remembered, and once at a time."""

    def __init__(
        self,
        capacity: int,
        *,
        remember_for_s: float = REMEMBER_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._confirmed = Remembered(capacity, remember_for_s, clock) if capacity else None
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def run(self, key: str, publish: Callable[[], Awaitable[None]]) -> Outcome:
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

    async def _publish(self, key: str, publish: Callable[[], Awaitable[None]]) -> None:
        try:
            await publish()
            if self._confirmed is not None:
                self._confirmed.add(key)
        finally:
            del self._pending[key]
