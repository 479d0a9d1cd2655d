"""How delivered messages are gathered into batches: in order, at most ``size``, one at a time."""

import asyncio

from taskhook.consumers.batches import Batches


class Recorder:
    """Records each batch it is handed; holds each one until ``release`` is set."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.running = 0
        self.most_at_once = 0
        self.fail_on = fail_on

    async def __call__(self, batch: list[int]) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.batches.append(batch)
        try:
            await self.release.wait()
            if self.fail_on in batch:
                raise KeyError(self.fail_on)
        finally:
            self.running -= 1


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def batches_of(handled: Recorder, *, size: int, wait_s: float = 0) -> Batches[int]:
    return Batches(handled, size=size, wait_s=wait_s, broken=Broken())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_what_has_arrived_is_one_batch_cut_at_the_size_in_delivery_order() -> None:
    handled = Recorder()
    batches = batches_of(handled, size=3)
    for item in range(7):
        batches.put(item)
    await settle()
    assert handled.batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches.close() == []


async def test_a_short_batch_waits_once_for_more_then_goes() -> None:
    handled = Recorder()
    batches = batches_of(handled, size=10, wait_s=0.05)
    batches.put(1)
    await asyncio.sleep(0.01)
    batches.put(2)  # arrives while the first waits: same batch
    await asyncio.sleep(0.1)
    assert handled.batches == [[1, 2]]
    batches.close()


async def test_one_batch_is_handled_at_a_time() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = batches_of(handled, size=2)
    for item in range(6):
        batches.put(item)
    await settle()
    assert handled.batches == [[0, 1]]  # the others wait for it
    handled.release.set()
    await settle()
    assert handled.batches == [[0, 1], [2, 3], [4, 5]]
    assert handled.most_at_once == 1
    batches.close()


async def test_closing_returns_the_rest_at_once_and_lets_the_batch_in_hand_finish() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = batches_of(handled, size=2)
    for item in range(5):
        batches.put(item)
    await settle()
    assert batches.close() == [2, 3, 4]
    assert handled.running == 1  # not cut short
    handled.release.set()
    await settle()
    assert handled.running == 0
    assert handled.batches == [[0, 1]]  # and nothing after it


async def test_abandoning_cuts_the_batch_in_hand_and_says_how_many_waited() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = batches_of(handled, size=2)
    for item in range(5):
        batches.put(item)
    await settle()
    assert batches.abandon() == 3
    await settle()
    assert handled.running == 0


async def test_a_batch_that_raises_stops_the_batches_and_says_so() -> None:
    handled, broken = Recorder(fail_on=1), Broken()
    batches = Batches(handled, size=2, wait_s=0, broken=broken)
    for item in range(6):
        batches.put(item)
    await settle()
    assert handled.batches == [[0, 1]]  # no later batch could ack what this one left
    assert broken.calls == 1
    assert batches.closed
