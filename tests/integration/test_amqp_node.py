"""taskhook's own AMQP connection against a real RabbitMQ node of this module's own
(tests/support/tls_node.py): TLS with a CA made here and ``verify_peer``, certificate (EXTERNAL)
authentication, the broker's refusals, bodies over many frames, and a consumer under a memory
alarm, which only this node ever has. One node for the module (about 10 s to start)."""

import asyncio
import os
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from pamqp import commands as spec

from taskhook.bootstrap import consumer_topology
from taskhook.broker.amqp import ConnectionLost, Delivered, OpeningRefused, open_amqp
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connection_failure
from taskhook.broker.declare import declare
from taskhook.core.message import OutgoingMessage
from taskhook.settings import ConsumerSettings
from tests.support import cluster, consumers, tls_node
from tests.support.processes import free_port
from tests.support.rabbitctl import ALARM_WATERMARK

pytestmark = pytest.mark.timeout(120)

PLAIN_URL = f"amqp://guest:guest@127.0.0.1:{tls_node.AMQP_PORT}/"


@pytest.fixture(scope="module")
def node() -> Iterator[tls_node.TlsNode]:
    try:
        started = tls_node.start()
    except (cluster.ClusterError, FileNotFoundError) as e:  # rabbitmq-server or openssl missing
        missing = isinstance(e, FileNotFoundError) or "installed" in str(e)
        if os.environ.get("CI") or not missing:
            raise
        pytest.skip(f"a node of the test's own needs rabbitmq-server and openssl: {e}")
    try:
        yield started
    finally:
        tls_node.stop(started)


async def opened(url: str) -> Any:
    return await open_amqp(url, "taskhook-test", publish_timeout_s=5, connect_timeout_s=5)


async def round_trip(url: str, body: bytes) -> Delivered:
    """Publish ``body`` to a fresh queue on ``url``, confirmed, and consume it back, both on
    taskhook's own connection."""
    connection = await opened(url)
    queue = f"taskhook-test.{uuid.uuid4().hex[:8]}"
    try:
        await connection.call(spec.Queue.Declare(queue=queue, auto_delete=True))
        message = OutgoingMessage(routing_key=queue, body=body, message_id="m", type="t")
        await confirm_or_fail(connection, "", message)
        arrived: asyncio.Queue[Delivered] = asyncio.Queue()
        await connection.consume(queue, arrived.put_nowait)
        delivered = await asyncio.wait_for(arrived.get(), 5)
        await delivered.ack()
        return delivered
    finally:
        await connection.close(5)


async def test_tls_verifying_the_broker_against_our_ca_carries_bodies_over_many_frames(
    node: tls_node.TlsNode,
) -> None:
    body = os.urandom(100_000)  # 25 frames at the node's frame_max of 4096

    delivered = await round_trip(node.tls_url, body)

    assert delivered.body == body
    assert delivered.message_id == "m"


async def test_the_ca_given_as_cadata_in_the_url_is_trusted(node: tls_node.TlsNode) -> None:
    url = f"amqps://guest:guest@localhost:{tls_node.TLS_PORT}/?cadata={tls_node.ca_data(node)}"

    delivered = await round_trip(url, b"{}")

    assert delivered.body == b"{}"


async def test_a_broker_certificate_from_another_ca_is_refused_in_one_clear_line(
    node: tls_node.TlsNode,
) -> None:
    url = node.tls_url.replace("/ca.pem", "/other-ca.pem")
    with pytest.raises(ssl.SSLError) as refused:
        await opened(url)

    line = connection_failure(refused.value, url)
    assert line.startswith(f"cannot trust the broker at localhost:{tls_node.TLS_PORT}: ")
    assert "certificate" in line
    assert "cafile or cadata" in line
    assert "\n" not in line


async def test_the_client_certificate_authenticates_its_common_name_with_external(
    node: tls_node.TlsNode,
) -> None:
    # Only the certificate's user may use this virtual host: a PLAIN login as guest may not.
    url = node.external_url.replace("/?", f"/{tls_node.CERTIFIED_VHOST}?")

    delivered = await round_trip(url, b"certified")

    assert delivered.body == b"certified"


async def test_external_on_a_listener_without_tls_is_refused_naming_what_is_offered(
    node: tls_node.TlsNode,
) -> None:
    url = f"amqp://127.0.0.1:{tls_node.AMQP_PORT}/?auth=external"
    with pytest.raises(OpeningRefused) as refused:
        await opened(url)

    assert connection_failure(refused.value, url) == (
        f"the broker at 127.0.0.1:{tls_node.AMQP_PORT} refused: "
        "it offers no EXTERNAL authentication, only PLAIN"
    )


@pytest.mark.parametrize(
    ("url", "code", "line"),
    [
        (
            f"amqp://guest:wrong@127.0.0.1:{tls_node.AMQP_PORT}/",
            403,
            "refused the credentials of user 'guest'",
        ),
        (
            f"amqp://guest:guest@127.0.0.1:{tls_node.AMQP_PORT}/nowhere",
            530,
            "refused virtual host 'nowhere'",
        ),
    ],
    ids=["403-credentials", "530-vhost"],
)
async def test_the_brokers_refusals_of_the_opening_are_told_apart(
    node: tls_node.TlsNode, url: str, code: int, line: str
) -> None:
    with pytest.raises(OpeningRefused) as refused:
        await opened(url)

    assert refused.value.refused is not None
    assert refused.value.refused[0] == code
    assert line in connection_failure(refused.value, url)


async def test_heartbeat_zero_turns_them_off_and_close_ends_on_the_brokers_close_ok(
    node: tls_node.TlsNode,
) -> None:
    connection = await opened(PLAIN_URL + "?heartbeat=0")
    assert connection._heartbeat_s == 0
    await connection.close(5)

    assert isinstance(connection.reason, ConnectionLost)
    assert str(connection.reason) == "the connection was closed"  # not "did not answer"


@pytest.fixture
async def node_channel(node: tls_node.TlsNode) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(PLAIN_URL)
    async with connection:
        yield await connection.channel()


async def test_a_consumer_whose_handler_fails_keeps_acking_through_a_memory_alarm(
    node: tls_node.TlsNode, node_channel: AbstractChannel, tmp_path: Any
) -> None:
    """The forwarded retries go on a connection of their own: the alarm stops that one, and
    the consuming connection keeps acking what succeeds (before, the consumer stood still at
    its prefetch until the alarm cleared)."""
    run = consumers.fails_one_in_ten_once("alarmed", 60)
    settings = ConsumerSettings(
        amqp_url=PLAIN_URL,
        exchange="taskhook-alarm",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}",
        consumer_host="127.0.0.1",
        consumer_port=free_port(),
        consumer_retry_delays_s=(0.2,),
        consumer_prefetch=10,
        consumer_concurrency=10,
    )
    await declare(node_channel, consumer_topology(run.consumer, settings).declarations())
    for event in run.events:
        await consumers.publish(node_channel, "taskhook-alarm", event)
    succeeding = {event["id"] for event in run.events} - run.failing

    node.ctl("set_vm_memory_high_watermark", ALARM_WATERMARK)
    try:
        running = await consumers.start(run.consumer, settings)
        async with asyncio.timeout(20):
            while not succeeding <= run.handled:
                await asyncio.sleep(0.05)
        assert run.tried == run.failing  # their retries wait for the alarm to clear
    finally:
        node.ctl("set_vm_memory_high_watermark", "0.4")
    async with asyncio.timeout(30):
        while len(run.handled) < len(run.events):
            await asyncio.sleep(0.05)
    await running.stop()
