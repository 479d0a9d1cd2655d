"""One webhook, one trace: from the HTTP request through the publish and the broker to the tasks
consumer's handler and its database calls, recorded with the SDK's in-memory exporter."""

import asyncio
from collections.abc import Iterator

import pytest
from aio_pika.abc import AbstractChannel
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from taskhook import tracing
from taskhook.tasks.consumer import tasks
from tests.conftest import ConsumerFactory, ServiceFactory
from tests.support.consumers import renamed
from tests.support.deliveries import SECRET, load_sample


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on for what the test builds next, into memory; off again after."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer(tracing.INSTRUMENTATION))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield exporter
    provider.shutdown()


def named(found: list[ReadableSpan], name: str) -> ReadableSpan:
    matching = [span for span in found if span.name == name]
    assert matching, f"no span {name!r} among {sorted({s.name for s in found})}"
    return matching[0]


async def test_one_webhook_is_one_trace_that_reaches_the_consumer_s_handler_and_its_database(
    spans: InMemorySpanExporter,
    start_service: ServiceFactory,
    start_consumer: ConsumerFactory,
    consumer_name: str,
    exchange: str,
    channel: AbstractChannel,
) -> None:
    service = await start_service()
    await service.wait_until(ready=True)
    consumer = await start_consumer(renamed(tasks, consumer_name))
    document = load_sample("task.completed.upload.json")

    assert (await service.deliver(document)).status == 202
    async with asyncio.timeout(15):
        while (await consumer.get(f"/tasks/{document['payload']['task']['id']}"))[0] != 200:
            await asyncio.sleep(0.05)
    queue = consumer.topology.queue

    found = list(spans.get_finished_spans())
    server = named(found, "POST /webhooks/livepeer")
    send = named(found, f"send {exchange}")
    process = named(found, f"process {queue}")
    trace_id = server.context.trace_id
    for span in (
        named(found, "verify signature"),
        named(found, "validate delivery"),
        send,
        process,
    ):
        assert span.context.trace_id == trace_id, span.name
    # The store's statements made by the handler are its children (migrations at start-up and
    # the test's own reads of /tasks are traces of their own).
    database = [s for s in found if s.attributes and "db.system" in s.attributes]
    in_handler = [s for s in database if s.parent and s.parent.span_id == process.context.span_id]
    assert in_handler, "the handler's database calls are spans of the same trace"
    assert all(s.context.trace_id == trace_id for s in in_handler)
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    assert (server.kind, send.kind, process.kind) == (
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 202
    assert send.attributes is not None
    assert send.attributes["messaging.message.id"] == document["id"]
    assert send.attributes["messaging.rabbitmq.destination.routing_key"] == "task.completed.upload"
    assert process.attributes is not None
    assert process.attributes["messaging.consumer.group.name"] == consumer_name
    # Never a body or a secret: the attributes say which event, not what it holds.
    everything = " ".join(str(value) for s in found for value in (s.attributes or {}).values())
    assert SECRET not in everything
    assert document["payload"]["task"]["snapshot"]["params"]["upload"]["url"] not in everything


async def test_with_tracing_off_nothing_is_added_to_the_published_message(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str
) -> None:
    from tests.support.broker import bind_queue, take

    assert tracing.tracer() is None
    service = await start_service()
    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    assert (await service.deliver(load_sample("task.spawned.upload.json"))).status == 202
    assert "traceparent" not in ((await take(queue)).headers or {})
