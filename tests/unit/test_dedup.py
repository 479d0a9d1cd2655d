import asyncio

import pytest

from taskhook.application.dedup import Outcome, PublishOnce, Remembered
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
