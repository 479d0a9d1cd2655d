"""How much a consumer whose handler sometimes fails drains during a memory alarm: 3,000 events,
the first attempt of one in ten failing (so its retry copy must be forwarded), the consumer
started during a 20-s alarm, default settings; prints how many of the 2,700 that succeed at
once were handled while the alarm lasted, and how long after it cleared all were.

On a RabbitMQ node of its own (tests/support/tls_node.py), never the machine's broker, so it
needs no lock: ``python -m tests.bench.alarm_drain``.
"""

import asyncio
import tempfile
import time

import aio_pika

from taskhook.bootstrap import consumer_topology
from taskhook.broker.declare import declare
from taskhook.settings import ConsumerSettings
from tests.support import consumers, tls_node
from tests.support.processes import free_port
from tests.support.rabbitctl import ALARM_WATERMARK

EVENTS = 3_000
ALARM_S = 20.0


async def drain(node: tls_node.TlsNode) -> str:
    url = f"amqp://guest:guest@127.0.0.1:{tls_node.AMQP_PORT}/"
    run = consumers.fails_one_in_ten_once("drain", EVENTS)
    settings = ConsumerSettings(
        amqp_url=url,
        exchange="drain",
        database_url=f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/tasks.sqlite3",
        consumer_host="127.0.0.1",
        consumer_port=free_port(),
        consumer_retry_delays_s=(1.0,),
    )
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await declare(channel, consumer_topology(run.consumer, settings).declarations())
        for event in run.events:
            await consumers.publish(channel, "drain", event)
    node.ctl("set_vm_memory_high_watermark", ALARM_WATERMARK)
    raised = time.monotonic()
    running = await consumers.start(run.consumer, settings)
    await asyncio.sleep(ALARM_S - (time.monotonic() - raised))
    during = len(run.handled - run.failing)
    node.ctl("set_vm_memory_high_watermark", "0.4")
    cleared = time.monotonic()
    while len(run.handled) < EVENTS:
        await asyncio.sleep(0.05)
    after_s = time.monotonic() - cleared
    await running.stop()
    succeeding = EVENTS - len(run.failing)
    return (
        f"handled during the {ALARM_S:g}-s alarm: {during} of the {succeeding} that succeed at "
        f"once; all {EVENTS} handled {after_s:.1f} s after it cleared"
    )


def main() -> None:
    node = tls_node.start()
    try:
        print(asyncio.run(drain(node)))
    finally:
        tls_node.stop(node)


if __name__ == "__main__":
    main()
