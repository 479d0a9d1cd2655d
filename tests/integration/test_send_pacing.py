"""`taskhook send` to a recording server over real HTTP: signed as Livepeer signs, paced as told."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from taskhook.clock import now_ms
from taskhook.core.signature import verify_signature
from taskhook.tools.send import repeated, sample_life, send

SECRET = "whsec-test"


@dataclass
class Received:
    at: float
    body: bytes
    headers: dict[str, str]


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[Received], list[int]]]:
    """A server that records each request and answers with the next status of ``statuses``
    (200 once they run out)."""
    received: list[Received] = []
    statuses: list[int] = []

    async def record(request: web.Request) -> web.Response:
        received.append(Received(time.monotonic(), await request.read(), dict(request.headers)))
        return web.json_response({"ok": True}, status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", record)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("/hook")), received, statuses
    await server.close()


async def test_each_delivery_is_compact_freshly_stamped_and_signed_over_its_bytes(
    recorder: tuple[str, list[Received], list[int]],
) -> None:
    url, received, _ = recorder

    assert await send(sample_life("clip", "task.failed", 3), url=url, secret=SECRET) == 0

    assert len(received) == 3
    for request in received:
        document = orjson.loads(request.body)
        assert request.body == orjson.dumps(document)  # compact, as Livepeer serialises
        signed_at = verify_signature(
            request.headers["Livepeer-Signature"],
            request.body,
            secrets=(SECRET.encode(),),
            now_ms=now_ms(),
            tolerance_ms=60_000,
        )
        assert signed_at == document["timestamp"]
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "livepeer.studio"
    events = [orjson.loads(r.body)["event"] for r in received]
    assert events == ["task.spawned", "task.updated", "task.failed"]


async def test_a_rate_spaces_the_deliveries_out(
    recorder: tuple[str, list[Received], list[int]],
) -> None:
    url, received, _ = recorder

    await send(sample_life("upload", "task.completed", 5), url=url, secret=SECRET, rate=20)

    # Five sends at 20 a second: the last leaves at least 4 / 20 s after the first. Unpaced, the
    # five local requests take a few milliseconds.
    assert received[-1].at - received[0].at >= 4 / 20 - 0.005


async def test_any_answer_but_2xx_fails_the_command_and_the_rest_are_still_sent(
    recorder: tuple[str, list[Received], list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, received, statuses = recorder
    statuses.extend([200, 503])
    document = {"id": "e-1", "event": "task.updated", "timestamp": 0}

    assert await send(repeated(document, 3), url=url, secret=SECRET) == 1

    assert len(received) == 3
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["200", "task.updated"],
        ["503", "task.updated"],
        ["200", "task.updated"],
    ]
