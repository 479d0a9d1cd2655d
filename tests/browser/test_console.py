"""The console as a person uses it, in chromium: tasks, live events, held-back queues and replay,
and who may see and do what."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiohttp
import orjson
import pytest
from playwright.async_api import BrowserContext, Page, expect

from taskhook.clock import now_ms
from taskhook.http.access import TOKEN_COOKIE
from taskhook.tasks.consumer import tasks
from taskhook.tasks.views import TaskQuery
from taskhook.tools.send import sample_life
from tests.browser.conftest import TOKEN, Stack, screenshot
from tests.support import held
from tests.support.broker import AMQP_URL, bind_queue, take
from tests.support.deliveries import SECRET

# The console shows the archive's bodies and replays its windows: the archive as shipped.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.archive]
RECORDED_TIMEOUT_S = 10.0
# Credentials as a delivery may carry them in a URL (docs/publishing.md): never shown unasked.
CREDENTIAL_URL = (
    "https://uploader:hunter2-pass@storage.example.com/in.mp4?X-Amz-Signature=s1gn4ture"
)
CREDENTIAL_PARTS = ("hunter2-pass", "s1gn4ture")


async def recorded(stack: Stack, task_id: str, phase: str) -> dict[str, Any]:
    """The task's row once the tasks consumer has recorded it in ``phase``."""
    async with asyncio.timeout(RECORDED_TIMEOUT_S):
        while (row := await stack.store.get(task_id)) is None or row["phase"] != phase:
            await asyncio.sleep(0.05)
    return row


def with_credentials(document: dict[str, Any]) -> dict[str, Any]:
    document["payload"]["task"]["snapshot"]["params"] = {"upload": {"url": CREDENTIAL_URL}}
    return document


async def ready_in(name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        queue = await (await connection.channel()).declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


async def test_a_tasks_whole_life_sent_through_the_ingest_shows_live_in_order_then_on_its_page(
    stack: Stack, page: Page
) -> None:
    await page.goto(stack.console + "/live")
    await expect(page.locator("#status")).to_have_text("watching")
    life = list(sample_life("upload", "task.completed", 4))
    for document in life:
        assert await stack.deliver(document) == 202
    rows = page.locator("#events tr")
    await expect(rows).to_have_count(len(life))
    shown = [await row.locator("td").nth(2).inner_text() for row in await rows.all()]
    assert shown == [document["id"] for document in reversed(life)]  # newest on top
    await screenshot(page, "live")

    task_id = life[0]["payload"]["task"]["id"]
    row = await recorded(stack, task_id, "completed")
    await page.goto(stack.console + "/tasks")
    await page.get_by_label("Search").fill(task_id)
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("table.tasks tbody tr")).to_have_count(1)
    await page.get_by_role("link", name=task_id).click()
    await expect(page.locator("h1")).to_contain_text(task_id)
    await expect(page.locator(".cards .phase")).to_have_text("completed")
    assert row["output_asset_id"] in await page.locator(".cards").inner_text()
    await expect(page.locator("table.outputs")).to_contain_text("tracks.0.codec")
    await expect(page.locator(".cards")).to_contain_text(life[-1]["id"])  # the latest event
    timeline = page.locator("table.timeline tbody tr")
    await expect(timeline).to_have_count(len(life))
    cells = [await row.locator("td").all_inner_texts() for row in await timeline.all()]
    assert [row[6] for row in cells] == [document["id"] for document in life]  # in order
    assert [row[2] for row in cells] == [document["event"] for document in life]
    assert [row[5].strip() for row in cells] == ["live"] * len(life)
    await screenshot(page, "task")

    await page.get_by_role("link", name=life[-1]["id"]).click()
    await expect(page.locator("h1")).to_contain_text(life[-1]["id"])
    body = await page.locator("pre").inner_text()
    assert orjson.loads(body)["id"] == life[-1]["id"]  # the body as published
    await screenshot(page, "event")


async def test_the_live_view_pauses_and_resumes(stack: Stack, page: Page) -> None:
    await page.goto(stack.console + "/live?pattern=task.completed.%23")
    await expect(page.locator("#status")).to_have_text("watching")
    button = page.locator("#pause")
    await button.click()
    await expect(page.locator("#status")).to_have_text("paused")
    await expect(button).to_have_text("Resume")
    (missed,) = sample_life("clip", "task.completed", 1)
    assert await stack.deliver(missed) == 202
    await button.click()
    await expect(page.locator("#status")).to_have_text("watching")
    (seen,) = sample_life("clip", "task.completed", 1)
    assert await stack.deliver(seen) == 202
    await expect(page.locator("#events tr")).to_have_count(1)
    await expect(page.locator("#events")).to_contain_text(seen["id"])


async def test_the_list_filters_by_phase_and_finds_a_task_by_an_event_id(
    stack: Stack, page: Page
) -> None:
    failed = list(sample_life("export", "task.failed", 2))
    for document in failed:
        assert await stack.deliver(document) == 202
    task_id = failed[0]["payload"]["task"]["id"]
    await recorded(stack, task_id, "failed")
    await page.goto(stack.console + "/tasks?phase=failed")
    await expect(page.locator("table.tasks tbody tr")).to_have_count(1)
    await expect(page.locator("table.tasks")).to_contain_text(task_id)
    await page.goto(stack.console + "/tasks")
    await screenshot(page, "tasks")
    await page.goto(stack.console + f"/tasks?q={failed[0]['id']}")  # the spawned event's id
    await expect(page.locator("table.tasks tbody tr")).to_have_count(1)
    await expect(page.locator("table.tasks")).to_contain_text(task_id)


async def test_a_rejected_delivery_replayed_from_the_page_reaches_the_exchange_and_leaves_the_queue(
    stack: Stack, page: Page
) -> None:
    document = with_credentials(next(sample_life("upload", "task.completed", 1)))
    rejected = stack.topology.rejected_queue
    await held.keep_rejected(rejected, orjson.dumps(document), received_at_ms=now_ms())
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        published = await bind_queue(await connection.channel(), stack.exchange, "task.#")
        await page.goto(stack.console + "/held")
        await page.get_by_role("link", name=rejected).click()
        await expect(page.locator(".held-message")).to_have_count(1)
        await expect(page.locator(".why")).to_contain_text("refused by an older model")
        await screenshot(page, "held")
        await page.get_by_role("link", name="Replay…", exact=True).click()
        await expect(page.locator("table.steps")).to_contain_text("would replay")
        await screenshot(page, "replay-confirm")
        await page.get_by_role("button", name="Replay 1").click()
        await expect(page.locator(".outcome")).to_have_text(f"1 replayed, 0 left in {rejected}.")

        message = await take(published)
        assert message.message_id == document["id"]
        assert CREDENTIAL_PARTS[0] not in message.body.decode()  # published as the ingest would
    assert await ready_in(rejected) == 0


async def test_a_window_replayed_from_the_form_is_counted_first_and_reaches_the_consumer(
    stack: Stack, page: Page
) -> None:
    failed = list(sample_life("transcode-file", "task.failed", 3))
    for document in failed:
        assert await stack.deliver(document) == 202
    await recorded(stack, failed[0]["payload"]["task"]["id"], "failed")
    handled_before = await stack.consumer.count("handled")
    now = datetime.now(UTC)
    minute = "%Y-%m-%dT%H:%M"
    await page.goto(stack.console + "/replay")
    await page.get_by_label("Consumer").select_option(tasks.name)
    await page.get_by_label("Received since (UTC)").fill(
        (now - timedelta(minutes=5)).strftime(minute)
    )
    await page.get_by_label("until (UTC)").fill((now + timedelta(minutes=5)).strftime(minute))
    await page.get_by_label("Binding key").fill("task.*.transcode-file")
    await page.get_by_role("button", name="Count").click()
    await expect(page.locator(".outcome")).to_have_text(
        f"{len(failed)} archived events would be replayed to {tasks.name}."
    )
    await screenshot(page, "replay-window")
    await page.get_by_role("button", name=f"Replay {len(failed)}").click()
    await expect(page.locator(".outcome")).to_contain_text(
        f"{len(failed)} archived events replayed"
    )
    async with asyncio.timeout(RECORDED_TIMEOUT_S):
        while await stack.consumer.count("handled") < handled_before + len(failed):
            await asyncio.sleep(0.05)


async def test_a_request_without_the_token_is_refused_and_the_form_takes_it(
    stack: Stack, context: BrowserContext, page: Page
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.outward + "/tasks") as refused:
            assert refused.status == 401
            assert (await refused.json())["type"] == "urn:taskhook:problem:token-required"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(stack.outward + "/tasks", headers=headers) as allowed:
            assert allowed.status == 200
        async with http.get(stack.console + "/tasks") as local:
            assert local.status == 200  # this machine needs none

    await page.goto(stack.outward + "/held")
    await expect(page).to_have_url(stack.outward + "/login?next=/held")
    await page.get_by_label("Token").fill("not-the-token-at-all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That is not the console's token.")
    await screenshot(page, "login")
    await page.get_by_label("Token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(stack.outward + "/held")
    (cookie,) = [c for c in await context.cookies() if c["name"] == TOKEN_COOKIE]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"


async def test_an_action_without_the_pages_csrf_token_is_refused(stack: Stack) -> None:
    replay = f"{stack.console}/held/{stack.topology.rejected_queue}/replay"
    async with aiohttp.ClientSession() as http:
        async with http.post(replay, data={"message": "all"}) as no_token:
            assert no_token.status == 403
            assert (await no_token.json())["type"] == "urn:taskhook:problem:csrf-failed"
        async with http.get(stack.console + "/held"):
            pass  # the session now holds the page's cookie, but not a token signed for it
        async with http.post(replay, data={"message": "all", "csrf": "forged"}) as forged:
            assert forged.status == 403


async def test_no_secret_appears_in_any_page(stack: Stack, page: Page) -> None:
    document = with_credentials(next(sample_life("upload", "task.updated", 1)))
    document["payload"]["task"]["snapshot"]["status"] = {"phase": "done"}  # refused for good
    rejected = stack.topology.rejected_queue
    await held.keep_rejected(rejected, orjson.dumps(document), received_at_ms=now_ms())
    secrets = [TOKEN, SECRET, "guest:guest", *CREDENTIAL_PARTS]  # the test broker's password
    pages = ["/tasks", "/held", f"/held/{rejected}", "/consumers", "/live", "/login", "/replay"]
    pages += [f"/held/{rejected}/replay?message=all"]
    rows = await stack.store.find(TaskQuery())
    pages += [f"/tasks/{row['id']}" for row in rows[:3]]
    pages += [f"/events/{row['event_id']}" for row in rows[:3]]
    for path in pages:
        await page.goto(stack.console + path)
        html = await page.content()
        assert not [secret for secret in secrets if secret in html], path
    await page.goto(f"{stack.console}/held/{rejected}?raw={document['id']}")
    assert CREDENTIAL_PARTS[0] in await page.content()  # only when asked for by name
