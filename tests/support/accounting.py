"""Counting every answer against every message: the proof that nothing accepted was lost.

The queue is a durable quorum queue bound to ``#`` and reached over a fresh connection for each
look, because the faults under test close every connection on the broker (the test's own too)
and a restarted node forgets transient queues.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from taskhook.broker.connection import connect
from taskhook.broker.declare import declare
from taskhook.broker.topology import Topology
from tests.support import owned
from tests.support.broker import AMQP_URL
from tests.support.loadgen import Answer

DRAIN_IDLE_S = 2.0


class CountingQueue:
    """A queue that collects everything published on ``exchange``, counted by message_id."""

    def __init__(self, exchange: str, url: str = AMQP_URL) -> None:
        self.exchange = exchange
        self.name = f"{exchange}.counted"
        self.url = url  # several, comma-separated, for a cluster: any node that answers
        owned.own_queue(exchange, self.name)  # removed with the exchange after the test

    async def declare(self) -> None:
        """Declare the exchange (as the service will) and the queue, bound to every key."""
        connection = await connect(self.url, "taskhook-test-counting")
        async with connection:
            channel = await connection.channel()
            exchanges, _ = await declare(channel, Topology(self.exchange).declarations())
            exchange = exchanges[self.exchange]
            queue = await channel.declare_queue(
                self.name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchange, routing_key="#")

    async def message_ids(self) -> Counter[str]:
        """How many copies of each message_id the queue holds; it is emptied."""
        seen: Counter[str] = Counter()
        connection = await connect(self.url, "taskhook-test-counting")
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=500)
            queue = await channel.get_queue(self.name, ensure=True)
            arrived = asyncio.Event()

            async def count(message: AbstractIncomingMessage) -> None:
                seen[message.message_id or ""] += 1
                arrived.set()
                await message.ack()

            await queue.consume(count)
            # Stop once nothing has arrived for a while: the queue is empty.
            while True:
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), DRAIN_IDLE_S)
                except TimeoutError:
                    break
        return seen


@dataclass(frozen=True)
class Tally:
    """Every delivery sent, by what its sender heard and whether it reached the queue."""

    sent: int
    accepted: int  # 2xx
    refused: int  # 4xx: never retried by Livepeer, so never acceptable here
    failed: int  # 5xx: retried by Livepeer
    unanswered: int  # timeout, refused or reset connection: retried by Livepeer
    in_queue: int  # distinct event ids found in the queue
    copies: int  # messages in the queue, duplicates included
    strangers: int  # messages in the queue that were never sent
    lost: int  # answered 2xx but not in the queue
    max_latency_s: float

    def __str__(self) -> str:
        return (
            f"sent={self.sent} 2xx={self.accepted} 4xx={self.refused} 5xx={self.failed} "
            f"no-answer={self.unanswered} in-queue={self.in_queue} copies={self.copies} "
            f"lost={self.lost} max-latency={self.max_latency_s:.2f}s"
        )


def tally(answers: list[Answer], in_queue: Counter[str]) -> Tally:
    statuses = [a.status for a in answers]
    accepted = {a.id for a in answers if a.status is not None and 200 <= a.status < 300}
    return Tally(
        sent=len(answers),
        accepted=len(accepted),
        refused=sum(1 for s in statuses if s is not None and 400 <= s < 500),
        failed=sum(1 for s in statuses if s is not None and s >= 500),
        unanswered=statuses.count(None),
        in_queue=len(in_queue),
        copies=sum(in_queue.values()),
        strangers=len(set(in_queue) - {a.id for a in answers}),
        lost=len(accepted - set(in_queue)),
        max_latency_s=max((a.latency_s for a in answers if a.status is not None), default=0.0),
    )


def assert_nothing_lost(result: Tally, answers: list[Answer], *, max_latency_s: float) -> None:
    """The invariants of every fault scenario."""
    sent_ids = {a.id for a in answers}
    assert result.sent > 0
    assert result.lost == 0, "a delivery answered 2xx is missing from the queue"
    assert result.refused == 0, "a 4xx is never retried: no fault may cause one"
    assert result.strangers == 0, "the queue holds a message nobody sent"
    assert result.max_latency_s <= max_latency_s, "an answer waited past the publish timeout"
    # Whatever is not in the queue was told to retry: a 5xx or no answer at all.
    for answer in answers:
        if answer.status is not None and answer.status < 500:
            assert 200 <= answer.status < 300
    assert len(sent_ids) == result.sent, "the load generator reused an event id"
