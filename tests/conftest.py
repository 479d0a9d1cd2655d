"""Fixtures for tests that run the real service against the real RabbitMQ on this machine."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from taskhook.bootstrap import ingest_app
from taskhook.broker.topology import Topology
from taskhook.consumers.consumer import Consumer
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.metrics import Metrics
from taskhook.settings import ConsumerSettings, Settings
from tests.faults import harness
from tests.support import consumers
from tests.support.broker import AMQP_URL
from tests.support.consumers import RunningConsumer
from tests.support.databases import fresh_postgres_database
from tests.support.deliveries import SECRET, signed
from tests.support.processes import free_port
from tests.support.proxy import TcpProxy

READY_TIMEOUT_S = 15.0
# Every test in these tiers talks to the real RabbitMQ (and some to PostgreSQL) on this machine.
BROKER_TIERS = frozenset({"integration", "faults", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the broker tiers ``broker``, so ``-m "not broker"`` runs without one."""
    for item in items:
        if BROKER_TIERS & set(item.path.relative_to(item.config.rootpath).parts):
            item.add_marker(pytest.mark.broker)


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
def exchange() -> str:
    """A private exchange name per test, so tests never see each other's messages."""
    return f"taskhook-test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def channel(exchange: str) -> AsyncIterator[AbstractChannel]:
    """A channel of the test's own, to inspect the broker; removes the test's topology after."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        yield await connection.channel()
    await delete_topology(exchange)


async def delete_topology(exchange: str) -> None:
    """Remove what the services declared on ``exchange``, over a connection of its own (a test
    may have cut every other one)."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        topology = Topology(exchange)
        for queue in (topology.rejected_queue, topology.unrouted_queue, topology.archive_queue):
            await channel.queue_delete(queue)
        names = (topology.exchange, topology.unrouted_exchange, topology.archive_queue)
        for name in names:
            await channel.exchange_delete(name)


@pytest.fixture
async def start_service(exchange: str, channel: AbstractChannel) -> AsyncIterator[ServiceFactory]:
    """Start services on the test's exchange; ``amqp_url`` and settings can be overridden."""
    running: list[TestClient[Any, Any]] = []

    async def start(*, amqp_url: str = AMQP_URL, **overrides: Any) -> Service:
        settings = Settings(
            **{"amqp_url": amqp_url, "exchange": exchange, "webhook_secrets": SECRET, **overrides}
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
async def start_consumer(
    exchange: str, channel: AbstractChannel, tmp_path: Path
) -> AsyncIterator[ConsumerFactory]:
    """Run consumers on the test's exchange with quick retries; removes their queues after."""
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
                **overrides,
            }
        )
        started = await consumers.start(consumer, settings)
        running.append(started)
        return started

    yield start
    for started in running:
        if not started.task.done():
            await started.stop()
        await consumers.delete_queues(channel, started.topology)


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
    ``tmp_path``; whatever is left is killed after, and the topology it declared removed."""
    started: list[harness.ServiceProcess] = []

    async def start(**extra: str) -> harness.ServiceProcess:
        service = await harness.start_service(exchange, tmp_path, **extra)
        started.append(service)
        return service

    yield start
    for service in started:
        await harness.stop_service(service)
    if started:
        await delete_topology(exchange)
