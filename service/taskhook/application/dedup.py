"""Publishing each event once, however often and however concurrently it arrives.

Livepeer resends an event until it gets a 2xx, and may send it again later anyway. This keeps a
bounded memory of events the broker confirmed, and makes concurrent arrivals of one event share
a single publish. That memory is the process's own; given a ``SharedMemory`` (Redis, with
``TASKHOOK_DEDUP_REDIS_URL``) the replicas also share what they confirmed and which event each
is publishing. Either way delivery stays at-least-once (a confirm can outlive the process that
awaited it), and consumers dedupe by ``message_id``.
"""

import asyncio
import contextlib
import enum
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from taskhook.core.errors import PublishFailed

# Livepeer retries for about 24 h; remembering a little longer covers its whole schedule.
REMEMBER_FOR_S = 25 * 3600
# While another replica publishes the same event, look again this often, for at most a lease
# (the publish timeout and a second): past it the copy is answered 503, and its retry finds the
# event done.
SHARED_POLL_S = 0.05
SHARED_WAIT_S = 10.0


class Claim(enum.Enum):
    CLAIMED = "claimed"  # this replica publishes it
    DONE = "done"  # some replica had it confirmed
    BUSY = "busy"  # another replica is publishing it now


class SharedMemoryDown(Exception):
    """The shared memory could not answer; the caller goes on with its own memory alone."""


class SharedMemory(Protocol):
    """What the replicas remember together. Every method raises ``SharedMemoryDown`` rather than
    wait long: a delivery never waits on it for more than a fraction of a second."""

    async def claim(self, key: str, token: str, lease_s: float) -> Claim:
        """Mark ``key`` as being published by ``token`` for ``lease_s``, unless it is done or
        someone else holds it."""
        ...

    async def confirm(self, key: str, remember_s: float) -> None:
        """``key`` was confirmed: remember it for ``remember_s``."""
        ...

    async def release(self, key: str, token: str) -> None:
        """``token``'s publish of ``key`` failed: let another try at once."""
        ...


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
        shared: SharedMemory | None = None,
        lease_s: float = SHARED_WAIT_S,
        remember_for_s: float = REMEMBER_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._confirmed = Remembered(capacity, remember_for_s, clock) if capacity else None
        self._remember_for_s = remember_for_s
        self._shared = shared
        # A crashed replica's claim expires after this: the publish timeout and a margin.
        self._lease_s = lease_s
        self._clock = clock
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
            if self._shared is None:  # one replica: no claim to make (and no coroutine more)
                await publish()
                outcome = Outcome.PUBLISHED
            else:
                outcome = await self._publish_once_shared(key, publish)
        except BaseException as e:
            _settle(waiting, e if isinstance(e, Exception) else _interrupted())
            raise
        finally:
            del self._pending[key]
        if self._confirmed is not None:
            self._confirmed.add(key)
        _settle(waiting, None)
        return outcome

    async def _publish_once_shared(
        self, key: str, publish: Callable[[], Awaitable[None]]
    ) -> Outcome:
        """Publish, unless the shared memory says another replica did or is doing it."""
        assert self._shared is not None
        token = uuid.uuid4().hex
        claim = await self._claim(key, token)
        if claim is Claim.DONE:
            return Outcome.DUPLICATE
        try:
            await publish()
        except BaseException:
            if claim is Claim.CLAIMED:
                await self._shared_call(self._shared.release(key, token))
            raise
        await self._shared_call(self._shared.confirm(key, self._remember_for_s))
        return Outcome.PUBLISHED

    async def _claim(self, key: str, token: str) -> Claim | None:
        """CLAIMED or DONE, or None: publish without a claim (the shared memory is down).

        Raises ``PublishFailed`` when another replica still publishes it after a lease: the
        sender is told to retry (and its retry is then answered duplicate), rather than kept
        waiting past the time it waits for an answer.
        """
        assert self._shared is not None
        deadline = self._clock() + self._lease_s
        while True:
            try:
                claim = await self._shared.claim(key, token, self._lease_s)
            except SharedMemoryDown:
                return None
            if claim is not Claim.BUSY:
                return claim
            if self._clock() >= deadline:
                raise PublishFailed("publish-timeout", "another replica is still publishing it")
            await asyncio.sleep(SHARED_POLL_S)

    async def _shared_call(self, call: Awaitable[None]) -> None:
        # What is lost when it fails is an optimisation: consumers dedupe by message_id anyway.
        with contextlib.suppress(SharedMemoryDown):
            await call


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
