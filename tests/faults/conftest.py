"""Fixtures of the fault scenarios: a counted queue on the test's exchange."""

from collections.abc import AsyncIterator

import pytest

from tests.support.accounting import CountingQueue


@pytest.fixture
async def counted(exchange: str) -> AsyncIterator[CountingQueue]:
    """Everything published on the test's exchange, in a queue that survives the faults."""
    queue = CountingQueue(exchange)
    await queue.declare()
    yield queue
    await queue.delete()
