"""Consumers whose handlers do nothing: what the consumer toolkit alone costs per message.

``noop`` takes events one by one, ``noop_batches`` in batches, as the tasks consumer does.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from taskhook.consumers import Consumer, Running, TaskEvent, consumer
from taskhook.settings import ConsumerSettings


@consumer("bench-noop", "task.#")
async def noop(event: TaskEvent) -> None:
    """Takes every task event and does nothing with it."""


async def _ignore(events: Sequence[TaskEvent]) -> None:
    pass


@asynccontextmanager
async def _open(settings: ConsumerSettings) -> AsyncIterator[Running[TaskEvent]]:
    yield Running(noop_one, batch=_ignore)


async def noop_one(event: TaskEvent) -> None:
    pass


noop_batches = Consumer(
    name="bench-noop-batches",
    bindings=("task.#",),
    open=_open,
    event_type=TaskEvent,
    summary="Takes every task event in batches and does nothing with them.",
)
