"""What reaches the broker when deliveries are accepted: exactly what was accepted, once."""

import asyncio
from datetime import datetime
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel

from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from tests.conftest import Service
from tests.support.broker import bind_queue, body_of, declared_queue, queue_is_empty, take
from tests.support.deliveries import load_sample, sample_names


def parse_iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("name", sample_names())
async def test_an_accepted_sample_is_in_a_bound_queue_with_key_properties_and_body(
    service: Service, channel: AbstractChannel, exchange: str, name: str
) -> None:
    document = load_sample(name)
    task = document["payload"]["task"]
    queue = await bind_queue(channel, exchange, "task.#")

    before = now_ms()
    response = await service.deliver(document)

    assert response.status == 202
    assert await response.json() == {"status": "accepted", "id": document["id"]}
    message = await take(queue)
    headers = dict(message.headers)
    received_at = parse_iso_ms(str(headers.pop("received-at")))
    assert before - 5 <= received_at <= now_ms()
    assert message.routing_key == f"{document['event']}.{task['type']}"
    assert message.delivery_mode == 2  # persistent
    assert message.content_type == "application/json"
    assert message.message_id == document["id"]
    assert message.type == document["event"]
    assert message.app_id == "taskhook"
    assert headers == {
        "webhook-id": document["webhookId"],
        "task-id": task["id"],
        "task-type": task["type"],
        "task-phase": task["snapshot"]["status"]["phase"],
        "project-id": task["snapshot"]["projectId"],
    }
    body = body_of(message)
    assert body["task"] == task["snapshot"]
    assert body["id"] == document["id"]
    assert body.get("success") == document["payload"].get("success")
    assert await queue_is_empty(queue)


async def test_unknown_keys_survive_all_the_way_to_the_consumer(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.completed.upload.json")
    snapshot = document["payload"]["task"]["snapshot"]
    snapshot["brandNewField"] = {"deep": [1, "two", None, 3.25]}
    snapshot["params"]["upload"]["thumbnails"] = True
    snapshot["output"]["upload"]["extraOutput"] = "kept"
    queue = await bind_queue(channel, exchange, "task.completed.upload")

    assert (await service.deliver(document)).status == 202

    assert body_of(await take(queue))["task"] == snapshot


async def test_a_consumer_binding_by_pattern_gets_only_what_it_asked_for(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    completions = await bind_queue(channel, exchange, "task.completed.*", "task.failed.*")
    for name in sample_names():
        assert (await service.deliver(load_sample(name))).status == 202
    received = {(await take(completions)).routing_key for _ in range(2)}
    assert received == {"task.completed.upload", "task.failed.transcode-file"}
    assert await queue_is_empty(completions)


async def test_an_event_of_no_known_family_is_routed_by_its_name_with_the_payload_untouched(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document: dict[str, Any] = {
        "id": "0b7d9a52-1d1f-4a8e-9d6b-0f6c4c1f2a3b",
        "webhookId": "de7818e7-610a-4057-8f6f-b785dc1e6f88",
        "createdAt": 1726570090000,
        "timestamp": 0,
        "event": "billing.usage",
        "payload": {"asset": {"id": "5b3c", "status": {"phase": "ready"}, "whatever": [1]}},
    }
    queue = await bind_queue(channel, exchange, "billing.*")

    assert (await service.deliver(document)).status == 202

    message = await take(queue)
    assert message.routing_key == "billing.usage"
    assert set(message.headers) == {"webhook-id", "received-at"}
    assert message.headers["webhook-id"] == document["webhookId"]
    assert body_of(message)["payload"] == document["payload"]


async def test_a_message_no_queue_is_bound_for_lands_in_the_unrouted_queue(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.spawned.upload.json")
    assert (await service.deliver(document)).status == 202
    unrouted = await declared_queue(channel, Topology(exchange).unrouted_queue)
    message = await take(unrouted)
    assert message.routing_key == "task.spawned.upload"
    assert message.message_id == document["id"]


async def test_a_redelivered_event_is_answered_duplicate_and_not_published_again(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.updated.upload.running.json")
    queue = await bind_queue(channel, exchange, "#")

    first = await service.deliver(document)
    retry = await service.deliver(document)  # Livepeer stamps and signs every retry anew

    assert first.status == 202
    assert retry.status == 200
    assert await retry.json() == {"status": "duplicate", "id": document["id"]}
    await take(queue)
    assert await queue_is_empty(queue)


async def test_the_same_event_id_from_another_webhook_is_a_different_event(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.updated.upload.running.json")
    queue = await bind_queue(channel, exchange, "#")
    assert (await service.deliver(document)).status == 202
    assert (await service.deliver({**document, "webhookId": "another-hook"})).status == 202
    assert {(await take(queue)).headers["webhook-id"] for _ in range(2)} == {
        document["webhookId"],
        "another-hook",
    }


async def test_the_same_event_arriving_many_times_at_once_is_published_once(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.completed.upload.json")
    queue = await bind_queue(channel, exchange, "#")

    responses = await asyncio.gather(*(service.deliver(document) for _ in range(8)))

    # Copies that came while it was in flight share its 202; any after its confirm are 200.
    statuses = [r.status for r in responses]
    assert 202 in statuses
    assert set(statuses) <= {200, 202}
    await take(queue)
    assert await queue_is_empty(queue)


async def test_many_different_events_at_once_are_each_published_once(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    template = load_sample("task.updated.upload.running.json")
    queue = await bind_queue(channel, exchange, "#")
    ids = [f"evt-{n}" for n in range(50)]

    responses = await asyncio.gather(*(service.deliver({**template, "id": i}) for i in ids))

    assert {r.status for r in responses} == {202}
    assert sorted([(await take(queue)).message_id or "" for _ in ids]) == sorted(ids)
    assert await queue_is_empty(queue)


async def test_a_presigned_export_url_is_redacted_in_what_consumers_get_and_counted(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    document = load_sample("task.completed.upload.json")
    document["payload"]["task"]["snapshot"]["params"]["export"] = {
        "custom": {"url": "https://b.example/o?X-Amz-Signature=deadbeef", "headers": {"A": "t"}}
    }
    queue = await bind_queue(channel, exchange, "#")

    assert (await service.deliver(document)).status == 202

    message = await take(queue)
    assert b"deadbeef" not in message.body
    custom = body_of(message)["task"]["params"]["export"]["custom"]
    assert custom == {"url": "https://b.example/o?REDACTED", "headers": {"A": "REDACTED"}}
    registry = service.metrics.registry
    for rule in ("task.params.export.custom.url", "task.params.export.custom.headers.*"):
        assert registry.get_sample_value("taskhook_redactions_total", {"rule": rule}) == 1
