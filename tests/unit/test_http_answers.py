"""The HTTP edge with a fake publisher: how errors that are not the broker's become answers.

Publishing itself is proven against the real broker in tests/integration; these only need a
publisher that misbehaves on cue.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from taskhook.bootstrap import ingest_app
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.core.message import OutgoingMessage
from taskhook.settings import Settings
from tests.support.deliveries import SECRET, load_sample, signed


class BrokenPublisher:
    """Connected, but every publish fails with a bug, not a broker error."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.blocked = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish_event(self, message: OutgoingMessage) -> None:
        raise RuntimeError(f"bug while handling secret {SECRET}")

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        raise RuntimeError("bug")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = ingest_app(Settings(webhook_secrets=SECRET), publisher=BrokenPublisher())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace(
    client: TestClient[Any, Any],
) -> None:
    body, headers = signed(load_sample("task.spawned.upload.json"))
    response = await client.post(WEBHOOK_PATH, data=body, headers=headers)

    assert response.status == 500  # a 5xx: Livepeer will retry it
    assert response.content_type == "application/problem+json"
    text = await response.text()
    assert "Traceback" not in text
    assert SECRET not in text
    problem = await response.json(content_type="application/problem+json")
    assert problem["type"] == "urn:taskhook:problem:internal-error"


async def test_not_ready_is_a_503_problem_naming_what_is_missing() -> None:
    app = ingest_app(Settings(webhook_secrets=SECRET), publisher=BrokenPublisher(ready=False))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert response.headers["Retry-After"].isdigit()
        problem = await response.json(content_type="application/problem+json")
        assert problem["type"] == "urn:taskhook:problem:not-ready"
        assert (problem["broker"], problem["draining"]) == ("down", "no")


async def test_liveness_does_not_depend_on_the_broker() -> None:
    app = ingest_app(Settings(webhook_secrets=SECRET), publisher=BrokenPublisher(ready=False))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
