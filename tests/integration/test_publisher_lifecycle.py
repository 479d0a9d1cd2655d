"""The publisher's own life: closed at any moment of connecting, it never hangs a shutdown."""

import asyncio

import uvloop

from taskhook.broker.publisher import AmqpPublisher
from taskhook.broker.topology import Topology
from taskhook.metrics import Metrics
from tests.support.broker import AMQP_URL


async def test_closing_at_any_point_of_connecting_returns_promptly(exchange: str) -> None:
    # SIGTERM can come while the publisher is still connecting. aio-pika may swallow a
    # cancellation that lands inside connect(), and close() must not wait on it forever.
    async def start_then_close_at_every_step() -> None:
        for step in range(120):
            publisher = AmqpPublisher(
                AMQP_URL, Topology(exchange), timeout_s=5, max_in_flight=8, metrics=Metrics.create()
            )
            await publisher.start()
            await asyncio.sleep(step * 0.0003)  # 0 to 36 ms: connect, channel, declare, connected
            await asyncio.wait_for(publisher.close(), 5)
            assert not publisher.ready

    # On uvloop, as `taskhook serve` runs: its timing is what exposed the hang.
    await asyncio.to_thread(uvloop.run, start_then_close_at_every_step())
