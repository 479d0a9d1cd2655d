"""The console in a real browser: Playwright driving Debian's chromium (scripts/ensure-chromium
installs it; no browser is downloaded), against the real broker, ingest and tasks consumer.

One stack and one browser serve the whole module: starting them is most of the time these
tests take. Each test gets a fresh browser context (no cookies carried over).
"""

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.typedefs import Handler
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from pydantic import SecretStr

from taskhook.bootstrap import consumer_topology, ingest_app, redaction
from taskhook.broker.topology import Topology
from taskhook.console.app import create_console_app
from taskhook.console.broker import BrokerView
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.settings import ConsoleSettings, ConsumerSettings, Settings
from taskhook.tasks.consumer import tasks
from taskhook.tasks.store import TaskStore
from tests.support import consumers, owned
from tests.support.broker import AMQP_URL
from tests.support.consumers import RunningConsumer
from tests.support.deliveries import SECRET, signed
from tests.support.processes import free_port

CHROMIUM = os.environ.get("TASKHOOK_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that reaches for the network on its own: CI has none but registries.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "console-test-token-" + "x" * 16
ELSEWHERE = "198.51.100.7"  # TEST-NET-2: the address of no machine here
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
VIEWPORT = {"width": 1280, "height": 800}


@web.middleware
async def as_if_from_elsewhere(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request as the console sees one from another machine: its remote address is the only
    thing that tells (these tests send traffic over loopback only)."""
    return await handler(request.clone(remote=ELSEWHERE))


@dataclass
class Stack:
    """The ingest, the tasks consumer and the console, on an exchange of their own."""

    exchange: str
    ingest: str
    console: str
    outward: str  # the same console, reached as from another machine
    consumer: RunningConsumer
    store: TaskStore

    async def deliver(self, document: dict[str, Any]) -> int:
        body, headers = signed(document)
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.ingest + WEBHOOK_PATH, data=body, headers=headers) as response,
        ):
            return response.status

    @property
    def topology(self) -> Topology:
        return Topology(self.exchange)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The ingest, the tasks consumer and the console, with the archive as shipped: the console
    shows the archive's bodies and replays its windows."""
    exchange = owned.new_exchange(request.node.nodeid, archive=True)
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'tasks.sqlite3'}"
    async with AsyncExitStack() as running:
        running.push_async_callback(owned.remove, exchange)
        ingest_settings = Settings(amqp_url=AMQP_URL, exchange=exchange, webhook_secrets=SECRET)
        ingest_port = await serve(running, ingest_app(ingest_settings))
        consumer_settings = ConsumerSettings(
            amqp_url=AMQP_URL,
            exchange=exchange,
            database_url=database,
            consumer_port=free_port(),
            consumer_retry_delays_s=(0.2,),
            consumer_batch_size=1,
        )
        owned.own_consumer(consumer_topology(tasks, consumer_settings))
        consumer = await consumers.start(tasks, consumer_settings)
        running.push_async_callback(consumer.stop)
        settings = ConsoleSettings(
            amqp_url=AMQP_URL,
            exchange=exchange,
            database_url=database,
            console_host="0.0.0.0",  # as deployed: off loopback, so only with the token
            console_token=SecretStr(TOKEN),
            consumer_retry_delays_s=(0.2,),
        )
        store = TaskStore.from_settings(settings)
        broker = BrokerView(AMQP_URL, Topology(exchange), (consumer.topology,), redaction(settings))
        console_port = await serve(running, create_console_app(settings, store, broker))
        elsewhere = create_console_app(settings, TaskStore.from_settings(settings), broker)
        elsewhere.middlewares.insert(0, as_if_from_elsewhere)
        outward_port = await serve(running, elsewhere)
        yield Stack(
            exchange=exchange,
            ingest=f"http://127.0.0.1:{ingest_port}",
            console=f"http://127.0.0.1:{console_port}",
            outward=f"http://127.0.0.1:{outward_port}",
            consumer=consumer,
            store=store,
        )


async def serve(running: AsyncExitStack, app: web.Application) -> int:
    """Serve ``app`` on a free loopback port until ``running`` closes; the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    running.push_async_callback(runner.cleanup)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return port


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240  # once, before the browser starts
        pytest.fail(
            f"no chromium at {CHROMIUM}: run scripts/ensure-chromium (as root it installs it)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    yield fresh
    await fresh.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, name: str) -> None:
    """What a person sees, kept for docs/console.md (written by every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
