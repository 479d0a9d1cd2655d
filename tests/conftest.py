"""Fixtures for tests that run the real service against the real RabbitMQ on this machine."""

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from taskhook.bootstrap import consumer_topology, ingest_app
from taskhook.consumers.consumer import Consumer
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.metrics import Metrics
from taskhook.settings import ConsumerSettings, Settings
from tests.faults import harness
from tests.support import consumers, owned, processes
from tests.support.broker import AMQP_URL
from tests.support.consumers import RunningConsumer
from tests.support.databases import fresh_postgres_database
from tests.support.deliveries import SECRET, signed
from tests.support.processes import free_port
from tests.support.proxy import TcpProxy

READY_TIMEOUT_S = 15.0
# Every test in these tiers talks to the real RabbitMQ (and some to PostgreSQL) on this machine.
BROKER_TIERS = frozenset({"integration", "faults", "browser"})


def pytest_configure() -> None:
    """Let the processes the tests start hear Ctrl-C. Started as a background job of a shell
    without job control, pytest ignores SIGINT, every child inherits that, and the tests that
    stop ``make run`` or ``taskhook`` with Ctrl-C would wait on children that never stop. A
    handler, unlike "ignored", is not inherited: each child starts with the default."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the broker tiers ``broker``, so ``-m "not broker"`` runs without one."""
    for item in items:
        if BROKER_TIERS & set(item.path.relative_to(item.config.rootpath).parts):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_on_the_broker() -> Iterator[None]:
    """After the last test, fail in one line if the broker still holds anything this run
    declared (``tests.support.owned``): the shared broker is not a place to leave things."""
    yield
    left = asyncio.run(owned.left_behind())
    if left:
        pytest.fail(
            f"after the run the broker still holds {len(left)} object(s) it declared: "
            f"{', '.join(left)}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    """Kill whatever a test started in a session of its own and left running, failed or not
    (``tests.support.processes.track``)."""
    yield
    processes.kill_started()


@dataclass
class Service:
    """A running taskhook app, reached over real HTTP, publishing to the real broker."""

    client: TestClient[Any, Any]
    settings: Settings
    metrics: Metrics

    async def post(self, body: bytes, headers: dict[str, str]) -> ClientResponse:
        return await self.client.post(WEBHOOK_PATH, data=body, headers=headers)

    async def deliver(self, document: dict[str, Any], **sign_options: Any) -> ClientResponse:
        body, headers = signed(document, **sign_options)
        return await self.post(body, headers)

    async def wait_until(self, ready: bool) -> None:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while (await self.client.get("/readyz")).status != (200 if ready else 503):
                await asyncio.sleep(0.05)


ServiceFactory = Callable[..., Awaitable[Service]]
StartService = Callable[..., Awaitable[harness.ServiceProcess]]


@pytest.fixture
async def exchange(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A private exchange name per test, so tests never see each other's messages; everything
    declared on it is removed after the test (``tests.support.owned``). The test runs with the
    archive only if it is marked ``archive``."""
    archive = request.node.get_closest_marker("archive") is not None
    name = owned.new_exchange(request.node.nodeid, archive=archive)
    yield name
    await owned.remove(name)


@pytest.fixture
async def channel() -> AsyncIterator[AbstractChannel]:
    """A channel of the test's own, to inspect the broker."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        yield await connection.channel()


@pytest.fixture
async def start_service(exchange: str) -> AsyncIterator[ServiceFactory]:
    """Start services on the test's exchange; ``amqp_url`` and settings can be overridden."""
    running: list[TestClient[Any, Any]] = []

    async def start(*, amqp_url: str = AMQP_URL, **overrides: Any) -> Service:
        settings = Settings(
            **{
                "amqp_url": amqp_url,
                "exchange": exchange,
                "webhook_secrets": SECRET,
                **owned.archive_settings(exchange),
                **overrides,
            }
        )
        metrics = Metrics.create()
        client: TestClient[Any, Any] = TestClient(TestServer(ingest_app(settings, metrics=metrics)))
        await client.start_server()
        running.append(client)
        return Service(client=client, settings=settings, metrics=metrics)

    yield start
    for client in running:
        await client.close()


@pytest.fixture
async def service(start_service: ServiceFactory) -> Service:
    """A service connected to the broker and ready."""
    started = await start_service()
    await started.wait_until(ready=True)
    return started


ConsumerFactory = Callable[..., Awaitable[RunningConsumer]]


@pytest.fixture
def consumer_name() -> str:
    """A consumer name of the test's own (its queues are named for the test's exchange too)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def start_consumer(exchange: str, tmp_path: Path) -> AsyncIterator[ConsumerFactory]:
    """Run consumers on the test's exchange with quick retries; their queues are removed with
    the exchange."""
    running: list[RunningConsumer] = []

    async def start(consumer: Consumer[Any], **overrides: Any) -> RunningConsumer:
        settings = ConsumerSettings(
            **{
                "amqp_url": AMQP_URL,
                "exchange": exchange,
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}",
                "consumer_host": "127.0.0.1",
                "consumer_port": free_port(),
                "consumer_retry_delays_s": (0.2,),
                "consumer_max_attempts": 3,
                "consumer_shutdown_grace_s": 5.0,
                **owned.archive_settings(exchange),
                **overrides,
            }
        )
        owned.own_consumer(consumer_topology(consumer, settings))
        started = await consumers.start(consumer, settings)
        running.append(started)
        return started

    yield start
    for started in running:
        if not started.task.done():
            await started.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    url = URL(AMQP_URL)
    tcp_proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await tcp_proxy.start()
    yield tcp_proxy
    tcp_proxy.resume()
    await tcp_proxy.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each real database the tasks store supports, empty."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def serve(exchange: str, tmp_path: Path) -> AsyncIterator[StartService]:
    """Start ``taskhook serve`` as a real process on the test's exchange, its log in
    ``tmp_path``; whatever is left is killed after (the exchange removes what it declared)."""
    started: list[harness.ServiceProcess] = []

    async def start(**extra: str) -> harness.ServiceProcess:
        service = await harness.start_service(exchange, tmp_path, **extra)
        started.append(service)
        return service

    yield start
    for service in started:
        await harness.stop_service(service)
