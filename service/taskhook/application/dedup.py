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

from taskhook.core.errors import PublishFailed

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
    """Runs a publish for a key at most once while it is remembered, and once at a time.

    The first arrival of a key publishes itself, in its own request (most events arrive alone,
    and a task per request cost more than the check). A copy that arrives while that publish is
    in progress waits on a future made only then, and gets the same outcome, its exception
    included; a copy that goes away changes nothing for the others. If the first arrival is
    cancelled (only a shutdown past its grace does that), so is its publish, and every copy
    waiting on it fails with ``PublishFailed`` (publish-interrupted): nothing was confirmed, so
    the sender retries.
    """

    def __init__(
        self,
        capacity: int,
        *,
        remember_for_s: float = REMEMBER_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._confirmed = Remembered(capacity, remember_for_s, clock) if capacity else None
        # Per key in progress: the futures of the copies waiting for it (usually none).
        self._pending: dict[str, list[asyncio.Future[None]]] = {}

    async def run(self, key: str, publish: Callable[[], Awaitable[None]]) -> Outcome:
        """Publish unless ``key`` was confirmed before; join a publish of ``key`` in progress."""
        if self._confirmed is not None and key in self._confirmed:
            return Outcome.DUPLICATE
        waiting = self._pending.get(key)
        if waiting is not None:
            joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiting.append(joined)
            await joined  # cancelled with its request; the publish goes on for the others
            return Outcome.PUBLISHED
        self._pending[key] = waiting = []
        try:
            await publish()
        except BaseException as e:
            _settle(waiting, e if isinstance(e, Exception) else _interrupted())
            raise
        finally:
            del self._pending[key]
        if self._confirmed is not None:
            self._confirmed.add(key)
        _settle(waiting, None)
        return Outcome.PUBLISHED


def _interrupted() -> PublishFailed:
    return PublishFailed("publish-interrupted", "the publish of this event was interrupted")


def _settle(waiting: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in waiting:
        if future.done():  # its copy went away
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
