import asyncio

import pytest

from taskhook.application.dedup import Claim, Outcome, PublishOnce, Remembered, SharedMemoryDown
from taskhook.core.errors import PublishFailed


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Publishes:
    """Counts publishes; each one waits for ``release`` and then succeeds or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.fail = fail

    async def __call__(self) -> None:
        self.count += 1
        await self.release.wait()
        if self.fail:
            raise PublishFailed("publish-nacked", "no")


async def test_an_event_confirmed_before_is_a_duplicate_and_not_published_again() -> None:
    once, publish = PublishOnce(10), Publishes()
    publish.release.set()
    assert await once.run("k", publish) is Outcome.PUBLISHED
    assert await once.run("k", publish) is Outcome.DUPLICATE
    assert await once.run("other", publish) is Outcome.PUBLISHED
    assert publish.count == 2


async def test_the_same_event_arriving_twice_at_once_is_published_once() -> None:
    once, publish = PublishOnce(10), Publishes()
    first = asyncio.create_task(once.run("k", publish))
    second = asyncio.create_task(once.run("k", publish))
    await asyncio.sleep(0)
    publish.release.set()
    assert list(await asyncio.gather(first, second)) == [Outcome.PUBLISHED, Outcome.PUBLISHED]
    assert publish.count == 1


async def test_a_failed_publish_fails_every_waiter_and_is_not_remembered() -> None:
    once, failing = PublishOnce(10), Publishes(fail=True)
    waiters = [asyncio.create_task(once.run("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    failing.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, PublishFailed) for r in results)
    assert failing.count == 1
    working = Publishes()
    working.release.set()
    assert await once.run("k", working) is Outcome.PUBLISHED  # the retry is published


async def test_a_copy_that_goes_away_does_not_cancel_the_publish_for_the_others() -> None:
    once, publish = PublishOnce(10), Publishes()
    first = asyncio.create_task(once.run("k", publish))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(once.run("k", publish))
    await asyncio.sleep(0)
    leaving.cancel()
    publish.release.set()
    assert await first is Outcome.PUBLISHED
    assert await once.run("k", publish) is Outcome.DUPLICATE
    assert publish.count == 1


async def test_when_the_publishing_arrival_is_cancelled_its_copies_fail_and_nothing_is_kept() -> (
    None
):
    once, publish = PublishOnce(10), Publishes()
    first = asyncio.create_task(once.run("k", publish))
    await asyncio.sleep(0)
    copy = asyncio.create_task(once.run("k", publish))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(PublishFailed) as failed:
        await copy
    assert failed.value.cause == "publish-interrupted"
    publish.release.set()
    assert await once.run("k", publish) is Outcome.PUBLISHED  # not remembered: sent again


@pytest.mark.parametrize(("capacity", "remembered"), [(2, ["c", "b"]), (0, [])])
async def test_memory_is_bounded_oldest_first(capacity: int, remembered: list[str]) -> None:
    once, publish = PublishOnce(capacity), Publishes()
    publish.release.set()
    for key in "abc":
        await once.run(key, publish)
    # Newest first: asking about an evicted key publishes it again and evicts another.
    outcomes = {key: await once.run(key, publish) for key in "cba"}
    assert [k for k, o in outcomes.items() if o is Outcome.DUPLICATE] == remembered


async def test_an_event_is_forgotten_after_the_senders_retry_window() -> None:
    clock = Clock()
    once, publish = PublishOnce(10, remember_for_s=100, clock=clock), Publishes()
    publish.release.set()
    await once.run("k", publish)
    clock.now = 99
    assert await once.run("k", publish) is Outcome.DUPLICATE
    clock.now = 101
    assert await once.run("k", publish) is Outcome.PUBLISHED


@pytest.mark.parametrize(
    ("adds", "at", "remembered", "stored"),
    [
        ([("a", 0), ("b", 1), ("c", 2)], 3, {"a", "b", "c"}, 3),
        ([("a", 0), ("b", 1), ("c", 2), ("d", 3)], 3, {"b", "c", "d"}, 3),  # capacity 3
        ([("a", 0), ("b", 1), ("a", 2), ("d", 3)], 3, {"a", "b", "d"}, 3),  # "a" again: kept anew
        ([("a", 0), ("b", 1), ("c", 2)], 5.5, {"b", "c"}, 3),  # "a" lived 5 s
        ([("a", 0), ("b", 6)], 6, {"b"}, 1),  # an expired key goes when the next one comes
    ],
)
def test_remembered_keeps_keys_for_their_time_and_forgets_the_oldest_first(
    adds: list[tuple[str, float]], at: float, remembered: set[str], stored: int
) -> None:
    clock = Clock()
    memory = Remembered(capacity=3, ttl_s=5, clock=clock)
    for key, added_at in adds:
        clock.now = added_at
        memory.add(key)
    clock.now = at
    assert {key for key in "abcd" if key in memory} == remembered
    assert len(memory) == stored


class MemoryShared:
    """A ``SharedMemory`` in a dict, as Redis would hold it; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}
        self.down = False
        self.calls: list[str] = []

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise SharedMemoryDown("ConnectionError")

    async def claim(self, key: str, token: str, lease_s: float) -> Claim:
        self._check("claim")
        held = self.held.get(key)
        if held is None:
            self.held[key] = token
            return Claim.CLAIMED
        return Claim.DONE if held == "done" else Claim.BUSY

    async def confirm(self, key: str, remember_s: float) -> None:
        self._check("confirm")
        self.held[key] = "done"

    async def release(self, key: str, token: str) -> None:
        self._check("release")
        if self.held.get(key) == token:
            del self.held[key]


async def test_an_event_another_replica_confirmed_is_a_duplicate_here_too() -> None:
    shared = MemoryShared()
    first, second = PublishOnce(10, shared=shared), PublishOnce(10, shared=shared)
    publish = Publishes()
    publish.release.set()
    assert await first.run("k", publish) is Outcome.PUBLISHED
    assert await second.run("k", publish) is Outcome.DUPLICATE
    assert publish.count == 1
    assert shared.held == {"k": "done"}


async def test_a_copy_at_another_replica_waits_for_the_publish_in_progress() -> None:
    shared = MemoryShared()
    first, second = PublishOnce(10, shared=shared), PublishOnce(10, shared=shared)
    publish = Publishes()
    running = asyncio.create_task(first.run("k", publish))
    await asyncio.sleep(0.01)  # the first replica holds the claim
    copy = asyncio.create_task(second.run("k", publish))
    await asyncio.sleep(0.2)
    assert not copy.done()
    assert publish.count == 1
    publish.release.set()
    assert await running is Outcome.PUBLISHED
    assert await copy is Outcome.DUPLICATE
    assert publish.count == 1


async def test_a_failed_publish_releases_its_claim_so_the_retry_publishes() -> None:
    shared = MemoryShared()
    once = PublishOnce(10, shared=shared)
    failing = Publishes(fail=True)
    failing.release.set()
    with pytest.raises(PublishFailed):
        await once.run("k", failing)
    assert shared.held == {}
    retry = Publishes()
    retry.release.set()
    assert await once.run("k", retry) is Outcome.PUBLISHED


async def test_a_shared_memory_that_is_down_costs_nothing_but_its_sharing() -> None:
    shared = MemoryShared()
    shared.down = True
    once = PublishOnce(10, shared=shared)
    publish = Publishes()
    publish.release.set()
    assert await once.run("k", publish) is Outcome.PUBLISHED  # published, not refused
    assert await once.run("k", publish) is Outcome.DUPLICATE  # its own memory still works
    assert publish.count == 1
    assert shared.calls == ["claim", "confirm"]


async def test_a_copy_waits_no_longer_than_a_lease_then_is_told_to_retry() -> None:
    shared = MemoryShared()
    shared.held["k"] = "another-replica"  # it claimed the event and is still publishing
    once = PublishOnce(10, shared=shared, lease_s=0.2)
    publish = Publishes()
    started = asyncio.get_running_loop().time()
    with pytest.raises(PublishFailed) as failed:
        await once.run("k", publish)
    assert failed.value.cause == "publish-timeout"
    assert 0.2 <= asyncio.get_running_loop().time() - started < 1.0
    assert publish.count == 0  # never published twice at once
