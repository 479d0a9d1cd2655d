"""Fixtures of the fault scenarios: a counted queue on the test's exchange, and real services."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.faults.harness import ServiceProcess, start_service, stop_service
from tests.support.accounting import CountingQueue

StartService = Callable[..., Awaitable[ServiceProcess]]


@pytest.fixture
async def counted(exchange: str) -> AsyncIterator[CountingQueue]:
    """Everything published on the test's exchange, in a queue that survives the faults."""
    queue = CountingQueue(exchange)
    await queue.declare()
    yield queue
    await queue.delete()


@pytest.fixture
async def serve(
    exchange: str, tmp_path: Path, counted: CountingQueue
) -> AsyncIterator[StartService]:
    """Start ``taskhook serve`` on the test's exchange; whatever is left is killed after."""
    started: list[ServiceProcess] = []

    async def start(**extra: str) -> ServiceProcess:
        service = await start_service(exchange, tmp_path, **extra)
        started.append(service)
        return service

    yield start
    for service in started:
        await stop_service(service)
