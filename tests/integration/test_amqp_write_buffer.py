"""A broker that stops reading: taskhook's own connection refuses publishes once the socket's
write buffer is full, instead of growing it, and takes them again once it drains. Through a TCP
proxy that holds every byte (the real broker behind it is untouched)."""

import asyncio

from pamqp import commands as spec

from taskhook.broker.amqp import WriteBlocked
from taskhook.broker.connection import connect_amqp
from tests.support.broker import through
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
