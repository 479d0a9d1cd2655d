"""A three-node RabbitMQ cluster of the tests' own (tests/support/cluster.py), started once for
the tier and removed after it; the machine's own broker on 5672 is never touched."""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support import cluster, owned
from tests.support.accounting import CountingQueue


@pytest.fixture(scope="session")
def nodes() -> Iterator[list[cluster.Node]]:
    """The running cluster; TASKHOOK_CLUSTER_KEEP=1 leaves it running for the next run."""
    try:
        members = cluster.start()
    except cluster.ClusterError as e:
        pytest.fail(f"the test cluster did not start: {e}")
    yield members
    if not os.environ.get("TASKHOOK_CLUSTER_KEEP"):
        cluster.stop()


@pytest.fixture
async def exchange(request: pytest.FixtureRequest, nodes: list[cluster.Node]) -> AsyncIterator[str]:
    """The test's private exchange on the cluster (never the machine's broker), everything
    declared on it removed from the cluster after the test (``tests.support.owned``)."""
    archive = request.node.get_closest_marker("archive") is not None
    name = owned.new_exchange(request.node.nodeid, archive=archive, url=cluster.urls())
    yield name
    await owned.remove(name)


@pytest.fixture
async def cluster_counted(nodes: list[cluster.Node], exchange: str) -> AsyncIterator[CountingQueue]:
    """Everything published on the test's exchange, in a quorum queue on the cluster (it goes
    with the exchange after the test, once every node is back)."""
    queue = CountingQueue(exchange, cluster.urls())
    await queue.declare()
    yield queue
    for node in nodes:  # a test that failed half-way may have left one stopped
        if not await asyncio.to_thread(cluster.answers, node):
            await asyncio.to_thread(cluster.start_node, node)
