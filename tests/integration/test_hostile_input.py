"""Whatever a stranger sends: a problem+json 4xx, never a 5xx, and nothing unsigned published.

The service runs in-process on a real socket and publishes to the real broker; raw sockets send
what an HTTP client library would refuse to. Every test ends by draining the queues: the events
bound to ``#`` and the rejected queue hold only bytes this test signed.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from taskhook.core.signature import sign
from taskhook.http.problems import PROBLEM_TYPE_PREFIX, PROBLEMS
from tests.conftest import Service
from tests.support.broker import bind_queue
from tests.support.deliveries import SECRET, load_sample, signed
from tests.support.strategies import near_valid_deliveries

PROBLEM = "application/problem+json"
REFUSALS = {cause for cause, kind in PROBLEMS.items() if 400 <= kind.status < 500}
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Signed:
    """What this test signed: the only bytes allowed to reach a queue."""

    def __init__(self) -> None:
        self.bodies: set[bytes] = set()

    def headers(self, body: bytes, *, at_ms: int | None = None) -> dict[str, str]:
        at_ms = now_ms() if at_ms is None else at_ms
        self.bodies.add(body)
        return {
            "Content-Type": "application/json",
            "Livepeer-Signature": sign(body, b"test-secret", at_ms),
        }


@pytest.fixture
def signed_here() -> Signed:
    return Signed()


@pytest.fixture
async def queues(
    channel: AbstractChannel, exchange: str, service: Service, signed_here: Signed
) -> AsyncIterator[None]:
    """After the test: nothing in any queue that this test did not sign."""
    everything = await bind_queue(channel, exchange, "#")
    rejected = await channel.get_queue(Topology(exchange).rejected_queue, ensure=True)
    yield
    signed_ids = set()
    for body in signed_here.bodies:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict) and isinstance(document.get("id"), str):
            signed_ids.add(document["id"])
    for message in await drain(everything):
        assert message[0] in signed_ids, "an event was published that nobody signed"
    for message in await drain(rejected):
        assert message[1] in signed_here.bodies, "a refusal was kept that nobody signed"


async def drain(queue: AbstractQueue) -> list[tuple[str, bytes]]:
    taken = []
    await asyncio.sleep(0.2)
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        taken.append((message.message_id or "", message.body))
    return taken


async def assert_refused(response: Any) -> dict[str, Any]:
    """A 4xx problem+json with a known, stable type."""
    assert 400 <= response.status < 500, response.status
    assert response.content_type == PROBLEM
    problem: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert problem["type"].removeprefix(PROBLEM_TYPE_PREFIX) in REFUSALS
    assert problem["status"] == response.status
    assert "Traceback" not in problem["detail"]
    return problem


pytestmark = pytest.mark.usefixtures("queues")


@FUZZ
@given(body=st.binary(max_size=2000), how=st.sampled_from(["none", "garbage", "other", "right"]))
async def test_random_bytes_get_a_4xx_problem_whatever_the_signature(
    service: Service, signed_here: Signed, body: bytes, how: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if how == "garbage":
        # Any bytes a header can carry (the client library refuses control characters).
        printable = bytes(b if 0x20 <= b != 0x7F else 0x20 for b in body[:200])
        headers["Livepeer-Signature"] = printable.decode("latin-1")
    elif how == "other":
        headers["Livepeer-Signature"] = sign(body + b"!", SECRET.encode(), now_ms())
    elif how == "right":
        headers = signed_here.headers(body)
    await assert_refused(await service.post(body, headers))


@FUZZ
@given(case=near_valid_deliveries())
async def test_a_signed_delivery_one_field_wrong_is_202_or_422_naming_it(
    service: Service, signed_here: Signed, case: tuple[dict[str, Any], str, str]
) -> None:
    document, changed, _ = case
    at = now_ms()
    body = orjson.dumps({**document, "timestamp": at})
    response = await service.post(body, signed_here.headers(body, at_ms=at))
    if response.status in (200, 202):
        return
    problem = await assert_refused(response)
    assert problem["type"].endswith("invalid-delivery")
    assert any(
        changed.startswith(e["pointer"]) or e["pointer"].startswith(changed)
        for e in problem["errors"]
    )


def body_with(raw_tail: bytes, at_ms: int) -> bytes:
    """A valid delivery with ``"x": <raw_tail>`` inside the task snapshot, as raw bytes."""
    document = load_sample("task.spawned.upload.json")
    document["timestamp"] = at_ms
    document["payload"]["task"]["snapshot"]["x"] = "HERE"
    return orjson.dumps(document).replace(b'"HERE"', raw_tail)


HOSTILE_BODIES = [
    pytest.param(lambda at: body_with(b"[" * 300 + b"]" * 300, at), 422, id="nested-300"),
    pytest.param(lambda at: body_with(b"[" * 5000 + b"]" * 5000, at), 400, id="nested-5000"),
    pytest.param(lambda at: body_with(b"1e400", at), 400, id="huge-float"),
    pytest.param(lambda at: body_with(b"NaN", at), 400, id="NaN"),
    pytest.param(lambda at: body_with(b"-Infinity", at), 400, id="Infinity"),
    pytest.param(lambda at: body_with(b'"\xff\xfe"', at), 400, id="invalid-utf8"),
    pytest.param(lambda at: body_with(b"1", at)[:-7], 400, id="truncated"),
    pytest.param(
        lambda at: re.sub(
            rb'"createdAt":(\d+)',
            rb'"createdAt":\1,"createdAt":253402300800000',
            body_with(b"1", at),
            count=1,
        ),
        422,
        id="duplicate-key-last-wins-past-9999",
    ),
    pytest.param(
        lambda at: body_with(b"1", at).replace(b'"createdAt":', b'"createdAt":"x","createdAt":', 1),
        202,
        id="duplicate-key-last-wins-valid",
    ),
]


@pytest.mark.parametrize(("make_body", "status"), HOSTILE_BODIES)
async def test_hostile_but_signed_bodies_are_refused_and_kept_never_a_5xx(
    service: Service, signed_here: Signed, make_body: Any, status: int
) -> None:
    at = now_ms()
    body = make_body(at)
    response = await service.post(body, signed_here.headers(body, at_ms=at))
    assert response.status == status
    if status >= 400:
        await assert_refused(response)


WRONG_V1 = "0" * 64
SIGNATURE_CASES = [
    pytest.param(
        lambda at, right: f"t={at}," + ",".join([f"v1={WRONG_V1}"] * 100 + [f"v1={right}"]),
        202,
        id="100-wrong-v1-then-right",
    ),
    pytest.param(
        lambda at, right: f"t={at}," + ",".join([f"v1={WRONG_V1}"] * 110), 401, id="110-wrong-v1"
    ),
    pytest.param(lambda at, right: f"t={at - 10**9},v1={right}", 401, id="t-far-past"),
    pytest.param(lambda at, right: f"t={at + 10**9},v1={right}", 401, id="t-far-future"),
    pytest.param(lambda at, right: f"t={'9' * 400},v1={right}", 401, id="t-400-digits"),
    pytest.param(lambda at, right: f"t=-{at},v1={right}", 401, id="t-negative"),
    pytest.param(lambda at, right: f"t={at},v1={right.upper()}", 202, id="uppercase-hex"),
    pytest.param(lambda at, right: f"t={at},v1={right[:-1]}", 401, id="short-v1"),
    pytest.param(lambda at, right: "t=1," * 1000, 401, id="many-t"),
    pytest.param(lambda at, right: "\u00e9" * 100, 401, id="non-ascii"),
]


@pytest.mark.parametrize(("make_header", "status"), SIGNATURE_CASES)
async def test_hostile_signature_headers_are_401_problems(
    service: Service, signed_here: Signed, make_header: Any, status: int
) -> None:
    at = now_ms()
    body, _ = signed(load_sample("task.spawned.upload.json"), at_ms=at)
    right = sign(body, SECRET.encode(), at).split("v1=")[1]
    if status == 202:
        signed_here.bodies.add(body)
    headers = {"Content-Type": "application/json", "Livepeer-Signature": make_header(at, right)}
    response = await service.post(body, headers)
    if status == 202:
        assert response.status == 202
    else:
        await assert_refused(response)


async def test_a_right_signature_over_another_body_is_401(service: Service) -> None:
    _, headers = signed(load_sample("task.spawned.upload.json"))
    other, _ = signed(load_sample("task.completed.upload.json"))
    problem = await assert_refused(await service.post(other, headers))
    assert problem["type"].endswith("signature-mismatch")
