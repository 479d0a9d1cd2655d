"""Fixtures of the fault scenarios: a counted queue on the test's exchange."""

import pytest

from tests.support.accounting import CountingQueue


@pytest.fixture
async def counted(exchange: str) -> CountingQueue:
    """Everything published on the test's exchange, in a queue that survives the faults (and
    goes with the exchange after the test)."""
    queue = CountingQueue(exchange)
    await queue.declare()
    return queue
