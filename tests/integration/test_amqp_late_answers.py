"""Answers that come late, or not at all, on taskhook's own connection against the real broker,
through a TCP proxy that holds bytes (the broker behind it is untouched): a broker that stops
reading gets publishes refused once the socket's write buffer is full, instead of it growing;
a Return that arrives after its publish timed out fails that publish, not the next one."""

import asyncio

import pytest
from aio_pika.abc import AbstractChannel
from pamqp import commands as spec

from taskhook.broker.amqp import WriteBlocked
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.core.errors import PublishFailed
from taskhook.core.message import OutgoingMessage
from tests.support.broker import take, through
from tests.support.proxy import TcpProxy

BODY = bytes(100_000)
MOST = 1_000  # 100 MB: far past any socket buffer on loopback


async def test_a_broker_that_stops_reading_gets_publishes_refused_until_it_reads_again(
    proxy: TcpProxy,
) -> None:
    connection = await connect_amqp(through(proxy), "taskhook-test", publish_timeout_s=30)
    properties = spec.Basic.Properties(message_id="m", delivery_mode=1)
    try:
        proxy.pause()
        published: list[asyncio.Future[None]] = []
        refused = None
        for _ in range(MOST):
            try:
                published.append(connection.publish("", "amq.nowhere", properties, BODY))
            except WriteBlocked as e:
                refused = e
                break
            await asyncio.sleep(0)  # each turn's publishes leave in one write
        assert isinstance(refused, WriteBlocked)
        assert 0 < len(published) < MOST, len(published)
        proxy.resume()

        async with asyncio.timeout(30):
            while True:
                try:
                    connection.publish("", "amq.nowhere", properties, b"{}")
                    break
                except WriteBlocked:
                    await asyncio.sleep(0.05)
        await asyncio.gather(*published, return_exceptions=True)  # unroutable: returned
    finally:
        await connection.close(5)


async def test_a_return_arriving_after_its_publish_timed_out_does_not_fail_the_retry(
    proxy: TcpProxy, channel: AbstractChannel, exchange: str
) -> None:
    """The broker returns the first publish (nothing bound yet) and confirms the sender's retry
    (bound by then); both answers arrive after the first timed out. Before, the late Return
    marked the retry, and a message the broker had routed was answered as unroutable."""
    target = await channel.declare_exchange(exchange, "topic", durable=True)
    connection = await connect_amqp(through(proxy), "taskhook-test", publish_timeout_s=0.5)
    try:
        message = OutgoingMessage(
            routing_key="task.updated.upload", body=b"{}", message_id="event-1", type="t"
        )
        proxy.hold_answers()
        with pytest.raises(PublishFailed) as first:
            await confirm_or_fail(connection, exchange, message)
        assert first.value.cause == "publish-timeout"
        connection._publish_timeout_s = 10.0  # the retry waits as long as it takes
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(target, routing_key="#")
        retry = asyncio.create_task(confirm_or_fail(connection, exchange, message))
        await asyncio.sleep(0.1)  # it reaches the broker, which routes it; its ack is held
        proxy.resume()

        await asyncio.wait_for(retry, 5)  # confirmed, not "unroutable"
        assert (await take(queue)).message_id == "event-1"
    finally:
        await connection.close(5)
