"""How delivered messages are gathered into batches: in order, at most ``size``, one at a time."""

import asyncio

from taskhook.consumers.batches import Batches


class Recorder:
    """Records each batch it is handed; holds each one until ``release`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, batch: list[int]) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.batches.append(batch)
        await self.release.wait()
        self.running -= 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_what_has_arrived_is_one_batch_cut_at_the_size_in_delivery_order() -> None:
    handled = Recorder()
    batches = Batches(handled, size=3, wait_s=0)
    for item in range(7):
        batches.put(item)
    await settle()
    assert handled.batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert await batches.close() == []


async def test_a_short_batch_waits_once_for_more_then_goes() -> None:
    handled = Recorder()
    batches = Batches(handled, size=10, wait_s=0.05)
    batches.put(1)
    await asyncio.sleep(0.01)
    batches.put(2)  # arrives while the first waits: same batch
    await asyncio.sleep(0.1)
    assert handled.batches == [[1, 2]]
    await batches.close()


async def test_one_batch_is_handled_at_a_time() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = Batches(handled, size=2, wait_s=0)
    for item in range(6):
        batches.put(item)
    await settle()
    assert handled.batches == [[0, 1]]  # the others wait for it
    handled.release.set()
    await settle()
    assert handled.batches == [[0, 1], [2, 3], [4, 5]]
    assert handled.most_at_once == 1
    await batches.close()


async def test_closing_finishes_the_batch_in_hand_and_returns_the_rest_in_order() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = Batches(handled, size=2, wait_s=0)
    for item in range(5):
        batches.put(item)
    await settle()
    closing = asyncio.create_task(batches.close())
    await settle()
    assert not closing.done()  # the batch in hand is not cut short
    handled.release.set()
    assert await closing == [2, 3, 4]
    assert handled.batches == [[0, 1]]


async def test_abandoning_drops_everything_at_once_and_says_how_much() -> None:
    handled = Recorder()
    handled.release.clear()
    batches = Batches(handled, size=2, wait_s=0)
    for item in range(5):
        batches.put(item)
    await settle()
    assert batches.abandon() == 3  # the batch in hand is cancelled, its owner untracks it
