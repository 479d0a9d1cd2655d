"""Every answer that is not 2xx: its status, its problem body, and what it kept or did not."""

import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.core.signature import sign
from tests.conftest import Service, ServiceFactory
from tests.support.broker import bind_queue, queue_is_empty, take
from tests.support.deliveries import SECRET, load_sample, signed

PROBLEM = "application/problem+json"


@pytest.fixture
async def everything(channel: AbstractChannel, exchange: str, service: Service) -> AbstractQueue:
    """A queue bound to every routing key: proves what was NOT published."""
    return await bind_queue(channel, exchange, "#")


@pytest.fixture
async def rejected(channel: AbstractChannel, exchange: str, service: Service) -> AbstractQueue:
    return await channel.get_queue(Topology(exchange).rejected_queue, ensure=True)


async def assert_problem(response: Any, status: int, cause: str) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == PROBLEM
    problem: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert problem["type"] == f"urn:taskhook:problem:{cause}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    return problem


def tamper(body: bytes) -> bytes:
    return body.replace(b'"upload"', b'"export"', 1)


def bad_signature_cases() -> list[Any]:
    document = load_sample("task.completed.upload.json")
    body, headers = signed(document)
    now = now_ms()
    stale_at = now - 301_000
    stale_body, _ = signed(document, at_ms=stale_at)
    other_t_body, _ = signed(document, at_ms=now - 5)
    return [
        pytest.param(body, {"Content-Type": "application/json"}, "signature-missing", id="none"),
        pytest.param(body, {**headers, "Livepeer-Signature": "v1=abc"}, "signature-malformed"),
        pytest.param(
            body,
            {**headers, "Livepeer-Signature": sign(body, b"wrong-secret", now)},
            "signature-mismatch",
        ),
        pytest.param(tamper(body), headers, "signature-mismatch", id="tampered body"),
        pytest.param(
            stale_body,
            {**headers, "Livepeer-Signature": sign(stale_body, SECRET.encode(), stale_at)},
            "signature-expired",
        ),
        pytest.param(
            other_t_body,
            {**headers, "Livepeer-Signature": sign(other_t_body, SECRET.encode(), now)},
            "timestamp-mismatch",
            id="replayed body, fresh t",
        ),
    ]


@pytest.mark.parametrize(("body", "headers", "cause"), bad_signature_cases())
async def test_an_unverifiable_delivery_is_401_and_nothing_is_kept(
    service: Service,
    everything: AbstractQueue,
    rejected: AbstractQueue,
    body: bytes,
    headers: dict[str, str],
    cause: str,
) -> None:
    await assert_problem(await service.post(body, headers), 401, cause)
    assert await queue_is_empty(everything)
    assert await queue_is_empty(rejected, settle_s=0)


async def test_a_signed_delivery_that_breaks_the_model_is_422_and_kept_with_its_reason(
    service: Service, everything: AbstractQueue, rejected: AbstractQueue
) -> None:
    document = load_sample("task.updated.upload.running.json")
    document["payload"]["task"]["snapshot"]["status"]["phase"] = "exploded"
    document["payload"]["task"]["snapshot"]["status"]["progress"] = 7
    body, headers = signed(document)

    problem = await assert_problem(await service.post(body, headers), 422, "invalid-delivery")

    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {
        "/payload/task/snapshot/status/phase",
        "/payload/task/snapshot/status/progress",
    }
    assert all(error["detail"] for error in problem["errors"])
    assert problem["kept"] is True
    kept = await take(rejected)
    assert kept.body == body  # the exact bytes, for a person to inspect and replay
    assert kept.message_id == document["id"]
    assert kept.headers["x-taskhook-cause"] == "invalid-delivery"
    reason = str(kept.headers["x-taskhook-reason"])
    assert "/payload/task/snapshot/status/phase" in reason
    assert kept.delivery_mode == 2
    assert await queue_is_empty(everything)


async def test_a_signed_body_that_is_not_json_is_400_and_kept(
    service: Service, everything: AbstractQueue, rejected: AbstractQueue
) -> None:
    body = b'{"id": "truncated'
    headers = {
        "Content-Type": "application/json",
        "Livepeer-Signature": sign(body, SECRET.encode(), now_ms()),
    }

    await assert_problem(await service.post(body, headers), 400, "invalid-json")

    kept = await take(rejected)
    assert kept.body == body
    assert kept.headers["x-taskhook-cause"] == "invalid-json"
    assert await queue_is_empty(everything)


async def test_a_body_declared_too_large_is_413_before_it_is_read(service: Service) -> None:
    limit = service.settings.max_body_bytes
    body, headers = signed({"padding": "x" * limit})
    response = await service.client.post(WEBHOOK_PATH, data=io.BytesIO(body), headers=headers)
    assert response.request_info.headers["Content-Length"] == str(len(body))
    await assert_problem(response, 413, "body-too-large")


async def test_a_chunked_body_is_cut_off_at_the_limit_with_413(service: Service) -> None:
    limit = service.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await service.client.post(
        WEBHOOK_PATH, data=chunks(), headers={"Content-Type": "application/json"}
    )
    await assert_problem(response, 413, "body-too-large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_declared_json_is_415(
    service: Service, content_type: str | None
) -> None:
    body, headers = signed(load_sample("task.spawned.upload.json"))
    headers.pop("Content-Type")
    if content_type:
        headers["Content-Type"] = content_type
    await assert_problem(await service.post(body, headers), 415, "unsupported-media-type")


async def test_a_json_flavoured_content_type_with_charset_is_accepted(service: Service) -> None:
    body, headers = signed(load_sample("task.spawned.upload.json"))
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert (await service.post(body, headers)).status == 202


@pytest.mark.parametrize(
    ("method", "path", "status", "cause"),
    [
        ("GET", WEBHOOK_PATH, 405, "method-not-allowed"),
        ("POST", "/webhooks/stripe", 404, "not-found"),
        ("GET", "/", 404, "not-found"),
    ],
)
async def test_unknown_routes_and_methods_are_problems_too(
    service: Service, method: str, path: str, status: int, cause: str
) -> None:
    await assert_problem(await service.client.request(method, path), status, cause)


async def test_unsigned_deliveries_pass_only_when_explicitly_allowed(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str
) -> None:
    unsigned = await start_service(webhook_secrets=(), allow_unsigned=True)
    await unsigned.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    body = orjson.dumps({**load_sample("task.spawned.upload.json"), "timestamp": now_ms()})

    response = await unsigned.post(body, {"Content-Type": "application/json"})

    assert response.status == 202
    assert (await take(queue)).routing_key == "task.spawned.upload"
