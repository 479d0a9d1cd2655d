"""Declaring a consumer: what the decorator builds, and what it refuses."""

import orjson
import pytest
from pydantic import ValidationError

from taskhook.consumers import Consumer, TaskEvent, consumer
from taskhook.core.message import PublishedEvent
from taskhook.settings import ConsumerSettings
from tests.support.lifecycle import task_life

EVENT_BODY = b'{"id":"e","event":"asset.ready","webhookId":"w","createdAt":1}'


async def test_the_decorator_builds_a_consumer_whose_handler_is_the_function() -> None:
    seen: list[str] = []

    @consumer("audit", "task.completed.*", "task.failed.#")
    async def audit(event: TaskEvent) -> None:
        """Keep an audit trail.

        More words that are not the summary."""
        seen.append(event.id)

    assert isinstance(audit, Consumer)
    assert (audit.name, audit.bindings, audit.summary) == (
        "audit",
        ("task.completed.*", "task.failed.#"),
        "Keep an audit trail.",
    )
    async with audit.open(ConsumerSettings()) as running:
        body = task_life()[-1]
        await running.handler(audit.parse(orjson.dumps(body)))
    assert seen == [body["id"]]


def test_a_consumer_parses_the_event_type_it_declares() -> None:
    @consumer("assets", "asset.#", event_type=PublishedEvent)
    async def assets(event: PublishedEvent) -> None:
        return None

    @consumer("tasks-only", "#")
    async def tasks_only(event: TaskEvent) -> None:
        return None

    assert assets.parse(EVENT_BODY).event == "asset.ready"
    with pytest.raises(ValidationError):
        tasks_only.parse(EVENT_BODY)


@pytest.mark.parametrize(
    ("name", "bindings"),
    [("Upper", ("task.#",)), ("has space", ("task.#",)), ("", ("task.#",)), ("ok", ())],
)
def test_a_name_that_cannot_name_a_queue_or_no_binding_is_refused(
    name: str, bindings: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="consumer"):

        @consumer(name, *bindings)
        async def handler(event: TaskEvent) -> None:
            return None
