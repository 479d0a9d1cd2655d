"""The Studio client against a local fake of Studio's API, quirks and failures included."""

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from taskhook.core.recovery import StudioFailed, StudioRefused
from taskhook.studio.client import StudioClient, _retry_after_s
from tests.support.processes import free_port
from tests.support.studio import API_KEY, FakeStudio

NOW = 1_800_000_000_000


def task(number: int, updated_at: int) -> dict[str, Any]:
    return {
        "id": f"task-{number:03}",
        "type": "upload",
        "createdAt": NOW,
        "status": {"phase": "running", "updatedAt": updated_at},
    }


@pytest.fixture
def studio() -> FakeStudio:
    return FakeStudio()


@pytest.fixture
async def client(studio: FakeStudio) -> AsyncIterator[StudioClient]:
    server = TestServer(studio.app())
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield StudioClient(
            session, str(server.make_url("/api")), API_KEY, page_size=3, backoff_s=0.01
        )
    await server.close()


async def all_tasks(client: StudioClient, since_ms: int = 0) -> list[tuple[str, int]]:
    return [(t["id"], t["status"]["updatedAt"]) async for t in client.tasks(since_ms)]


async def test_tasks_are_read_oldest_change_first_by_watermark_never_by_the_link(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.tasks = [task(n, NOW + n) for n in range(10)]
    studio.tasks.append(task(99, NOW - 1))  # before the window
    assert await all_tasks(client, NOW) == [(f"task-{n:03}", NOW + n) for n in range(10)]
    assert not any("cursor" in asked for asked in studio.requests)  # Link: http://, undefined


async def test_a_full_page_of_one_updated_at_is_got_past_with_a_larger_page(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.tasks = [task(n, NOW) for n in range(7)] + [task(50, NOW + 5)]
    assert sorted(await all_tasks(client)) == sorted(
        (t["id"], t["status"]["updatedAt"]) for t in studio.tasks
    )
    assert any("limit=12" in asked for asked in studio.requests)


async def test_a_task_that_changes_while_pages_are_read_is_seen_again_in_its_new_state(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.tasks = [task(n, NOW + n) for n in range(6)]
    changed = False

    def update_the_first_task() -> None:  # offset paging would now skip a row
        nonlocal changed
        if not changed:
            changed = True
            studio.tasks[0]["status"] = {"phase": "completed", "updatedAt": NOW + 100}

    studio.between_pages = update_the_first_task
    seen = await all_tasks(client)
    assert seen[:6] == [(f"task-{n:03}", NOW + n) for n in range(6)]
    assert seen[6:] == [("task-000", NOW + 100)]


async def test_delivery_logs_are_read_from_the_window_on(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.logs["wh"] = [{"id": f"log-{n}", "createdAt": NOW + n} for n in range(5)]
    studio.logs["other"] = [{"id": "log-x", "createdAt": NOW + 1}]
    read = [row["id"] async for row in client.delivery_logs("wh", NOW + 2)]
    assert read == ["log-2", "log-3", "log-4"]


async def test_429_and_5xx_are_retried_and_retry_after_is_honoured(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.tasks = [task(1, NOW)]
    studio.failures = [("/api/task", 429, {"Retry-After": "1"}), ("/api/task", 500, {})]
    started = time.monotonic()
    assert await all_tasks(client) == [("task-001", NOW)]
    assert time.monotonic() - started >= 1.0
    assert len(studio.requests) == 3


async def test_a_studio_that_keeps_failing_ends_in_one_line(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.failures = [("/api/task", 503, {})] * 5
    with pytest.raises(StudioFailed, match=r"^GET /task: Studio answered 503: Internal server"):
        await all_tasks(client)
    assert len(studio.requests) == 5  # the client's attempts


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_is_said_with_the_setting_to_change_and_never_echoed(
    studio: FakeStudio, status: int
) -> None:
    studio.failures = [("/api/", status, {})] if status == 403 else []
    server = TestServer(studio.app())
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        client = StudioClient(session, str(server.make_url("/api")), "a-wrong-key", backoff_s=0.01)
        with pytest.raises(StudioRefused) as refused:
            await client.webhooks()
    await server.close()
    assert "TASKHOOK_STUDIO_API_KEY" in str(refused.value)
    assert f"({status}" in str(refused.value)
    assert "a-wrong-key" not in str(refused.value)
    assert len(studio.requests) == 1  # not retried


async def test_a_bad_request_is_not_retried_and_says_studio_s_reason(
    client: StudioClient, studio: FakeStudio
) -> None:
    studio.failures = [("/api/webhook", 400, {})]
    with pytest.raises(StudioFailed, match=r"^Studio answered GET /webhook with 400: "):
        await client.webhooks()
    assert len(studio.requests) == 1


async def test_an_unreachable_studio_is_named_and_retried() -> None:
    port = free_port()
    async with aiohttp.ClientSession() as session:
        client = StudioClient(
            session, f"http://127.0.0.1:{port}/api", API_KEY, attempts=2, backoff_s=0.01
        )
        with pytest.raises(StudioFailed) as failed:
            await client.webhooks()
    assert str(failed.value) == (
        f"GET /webhook: Studio at http://127.0.0.1:{port}/api could not be reached: "
        "connection refused; try again later"
    )


async def test_a_host_that_does_not_resolve_is_said_at_once_and_not_retried() -> None:
    async with aiohttp.ClientSession() as session:
        client = StudioClient(
            session, "https://taskhook-no-such-host.invalid/api", API_KEY, backoff_s=10
        )
        started = time.monotonic()
        with pytest.raises(StudioFailed) as failed:
            await client.webhooks()
    assert time.monotonic() - started < 10  # one backoff of 10 s would have passed it
    assert str(failed.value) == (
        "no host named taskhook-no-such-host.invalid (Studio at "
        "https://taskhook-no-such-host.invalid/api): check TASKHOOK_STUDIO_URL and this "
        "machine's DNS"
    )


async def test_a_studio_that_does_not_answer_in_time_is_said_with_the_wait() -> None:
    async with aiohttp.ClientSession() as session:
        client = StudioClient(session, "https://studio.example/api", API_KEY)
        said = client._unreachable(TimeoutError(), "studio.example", 30.0)
    assert str(said) == "Studio at https://studio.example/api gave no answer within 30 s"


async def test_a_webhook_of_another_project_or_none_is_said_so(
    client: StudioClient, studio: FakeStudio
) -> None:
    webhook = studio.add_webhook("https://hooks.example/webhooks/livepeer", "s")
    assert (await client.webhook(webhook["id"]))["url"] == webhook["url"]
    with pytest.raises(StudioFailed, match=r"^webhook nope is not one of this key's project$"):
        await client.webhook("nope")


async def test_webhooks_are_listed_whole_with_or_without_created_at(
    client: StudioClient, studio: FakeStudio
) -> None:
    for number in range(3):
        studio.add_webhook(f"https://hooks.example/{number}", "s")
    del studio.webhooks[1]["createdAt"]
    assert sorted(w["id"] for w in await client.webhooks()) == sorted(
        w["id"] for w in studio.webhooks
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (None, None), ("soon", None), (+30, 30.0), (-30, 0.0)],
)
def test_retry_after_is_read_as_seconds_or_as_a_date(
    value: str | int | None, seconds: float | None
) -> None:
    if isinstance(value, int):  # an HTTP date this many seconds from now
        value = email.utils.formatdate(time.time() + value, usegmt=True)
    waited = _retry_after_s(value)
    if seconds is None:
        assert waited is None
    else:
        assert waited == pytest.approx(seconds, abs=1.5)
