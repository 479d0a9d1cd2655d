"""The archive stream: every event taskhook publishes is kept, and a 2xx implies archived."""

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed
from pamqp.common import FieldValue

from taskhook.clock import now_ms
from taskhook.history.archive import ArchiveMissing, ArchiveReader
from tests.conftest import Service, ServiceFactory
from tests.support.archive import archived, read_archive
from tests.support.broker import AMQP_URL, bind_queue, declared_queue, take
from tests.support.deliveries import load_sample

pytestmark = pytest.mark.archive  # what this module checks is the archive, as shipped


def deliveries(count: int) -> list[dict[str, object]]:
    """``count`` valid deliveries of distinct events."""
    base = load_sample("task.updated.upload.running.json")
    return [base | {"id": f"evt-{i:04d}"} for i in range(count)]


async def test_every_event_answered_2xx_is_in_the_archive(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    await bind_queue(channel, exchange, "task.#")
    before = now_ms()
    documents = deliveries(40)

    statuses = [(await service.deliver(document)).status for document in documents]

    assert statuses == [202] * len(documents)
    kept = await read_archive(channel, exchange, before)
    assert [each.message.message_id for each in kept] == [d["id"] for d in documents]
    assert {each.message.routing_key for each in kept} == {"task.updated.upload"}
    assert all(before <= (each.received_at_ms or 0) <= now_ms() for each in kept)
    assert [each.offset for each in kept] == list(range(len(documents)))


async def test_an_event_no_consumer_is_bound_for_is_held_unrouted_and_archived(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    before = now_ms()
    document = load_sample("task.completed.upload.json")

    assert (await service.deliver(document)).status == 202

    unrouted = await declared_queue(channel, archived(exchange).unrouted_queue)
    assert (await take(unrouted)).message_id == document["id"]
    kept = await read_archive(channel, exchange, before)
    assert [each.message.message_id for each in kept] == [document["id"]]


async def test_a_bound_consumer_gets_the_event_through_the_archive_front(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    queue = await bind_queue(channel, exchange, "task.completed.#")
    document = load_sample("task.completed.upload.json")

    assert (await service.deliver(document)).status == 202

    message = await take(queue)
    assert message.message_id == document["id"]
    assert message.routing_key == "task.completed.upload"


async def test_with_the_archive_turned_off_no_stream_is_declared_and_events_flow(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str
) -> None:
    service = await start_service(archive_enabled=False)
    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "task.#")

    response = await service.deliver(load_sample("task.spawned.upload.json"))

    assert response.status == 202
    assert (await take(queue)).routing_key == "task.spawned.upload"
    with pytest.raises(ChannelNotFoundEntity):
        await channel.get_queue(archived(exchange).archive_queue, ensure=True)


async def test_the_stream_is_declared_with_the_configured_retention(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str
) -> None:
    service = await start_service(archive_max_age_s=3600, archive_max_bytes=50_000_000)
    await service.wait_until(ready=True)
    stream = archived(exchange).archive_queue

    arguments: dict[str, FieldValue] = {
        "x-queue-type": "stream",
        "x-max-age": "3600s",
        "x-max-length-bytes": 50_000_000,
        "x-stream-max-segment-size-bytes": 50_000_000,
    }
    same = await channel.declare_queue(stream, durable=True, arguments=arguments)
    assert same.name == stream
    async with await aio_pika.connect(AMQP_URL) as connection:  # a refusal closes its channel
        other = await connection.channel()
        changed = arguments | {"x-max-age": "7D"}
        with pytest.raises(ChannelPreconditionFailed, match="x-max-age"):
            await other.declare_queue(stream, durable=True, arguments=changed)


async def test_reading_an_archive_that_does_not_exist_says_so(
    channel: AbstractChannel, exchange: str
) -> None:
    reader = ArchiveReader(channel, archived(exchange))

    with pytest.raises(ArchiveMissing):
        _ = [each async for each in reader.read(0, now_ms())]


async def test_the_oldest_kept_message_is_found_from_the_start_of_the_stream(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    documents = deliveries(3)
    for document in documents:
        assert (await service.deliver(document)).status == 202

    first = await ArchiveReader(channel, archived(exchange)).first(idle_s=0.5)

    assert first is not None
    assert (first.offset, first.message.message_id) == (0, documents[0]["id"])
