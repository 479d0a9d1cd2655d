"""``taskhook inspect`` and ``taskhook replay``: read and recover what a held-back queue holds.

Both take every message the queue holds ready when they start, oldest first, and keep them
unacknowledged while they work. What they do not remove goes back when their connection closes,
so a look changes nothing for good, and neither does a crash. They take them all even when told
to show or replay fewer: a quorum queue puts what it gets back behind what was given back before,
and taking only some would reorder the queue. A replay removes a message only after the broker
confirmed its copy: a crash between the two leaves both, never neither.
"""

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker.amqp import AmqpConnection
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.declare import declare_on
from taskhook.broker.received import received
from taskhook.broker.topology import Topology
from taskhook.core.errors import PublishFailed
from taskhook.core.held import (
    LOOKS_BEFORE_WARNING,
    HeldQueue,
    Replay,
    Stay,
    as_json,
    plan_replay,
    summarize,
)
from taskhook.core.message import ReceivedMessage
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.tools.broker import ToolFailed, connect, publishing
from taskhook.tools.columns import columns

PUBLISH_TIMEOUT_S = 10.0
GET_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Look:
    """The head of a held-back queue: how many it holds ready, and the first messages."""

    held_back: int
    messages: list[ReceivedMessage]


@dataclass(frozen=True, slots=True)
class Step:
    """What a replay did, or would do, with one message: ``replayed``, ``would replay`` or
    ``stays``, and where to or why."""

    action: str
    message: ReceivedMessage
    detail: str


@dataclass
class Replayed:
    """What a replay did: how many moved and stayed, each step, and how many an unrouted queue
    holds again afterwards (no queue bound for them yet)."""

    moved: int = 0
    stayed: int = 0
    back: int = 0
    steps: list[Step] = field(default_factory=list)


async def look(url: str, queue: HeldQueue, *, limit: int) -> Look:
    """Up to ``limit`` messages from the head of ``queue``; removes nothing."""
    async with _borrowed(url, queue.name) as (_, source, held_back):
        messages = [received(m) async for m in _take_all(source, held_back, keep=limit)]
    return Look(held_back, messages)


async def inspect(url: str, queue: HeldQueue, *, limit: int, as_json_lines: bool) -> int:
    """Print up to ``limit`` messages from the head of ``queue``; remove nothing."""
    seen = await look(url, queue, limit=limit)
    messages = seen.messages
    print(f"{queue.name}: {seen.held_back} held back, showing {len(messages)}", file=sys.stderr)
    if as_json_lines:
        for message in messages:
            print(orjson.dumps(as_json(message)).decode())
    else:
        for line in columns([summarize(message, queue).row() for message in messages]):
            print(line)
    _warn_if_looked_at_often(messages)
    return 0


async def replay(
    url: str,
    topology: Topology,
    queue: HeldQueue,
    *,
    limit: int | None,
    dry_run: bool,
    redaction: Redaction = DEFAULT_REDACTION,
) -> int:
    """``taskhook replay``: ``replay_held``, each step printed as it happens."""
    done = await replay_held(
        url, topology, queue, limit=limit, dry_run=dry_run, redaction=redaction, on_step=_say
    )
    if done.back:
        print(f"{queue.name} holds {done.back} again: no queue is bound for those yet")
    what = "would replay" if dry_run else "replayed"
    print(f"{what} {done.moved}, left {done.stayed} in {queue.name}")
    return 0


async def replay_held(
    url: str,
    topology: Topology,
    queue: HeldQueue,
    *,
    limit: int | None,
    dry_run: bool,
    redaction: Redaction = DEFAULT_REDACTION,
    only: str | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Replayed:
    """Publish held-back messages again, oldest first, each removed once its copy is confirmed.

    Those that must stay are left where they were; with ``only``, just the first message with
    that message id is replayed and the others stay untouched. Stops at the first publish that
    fails (``ToolFailed``). A rejected delivery that now passes is published with
    ``redaction``, as the ingest would.
    """
    done = Replayed()
    async with (
        _borrowed(url, queue.name) as (channel, source, held_back),
        publishing(url, timeout_s=PUBLISH_TIMEOUT_S) as copies,
    ):
        if queue.kind != "dead" and not dry_run:
            await declare_on(copies, topology.declarations())
        # What was there at the start: a copy that lands back in this queue (an event still
        # unrouted) is not taken again.
        async for incoming in _take_all(source, held_back, keep=limit or held_back):
            message = received(incoming)
            if only is not None and (message.message_id != only or done.moved + done.stayed):
                continue  # given back untouched when the connection closes
            step = await _replay_one(copies, incoming, message, queue, redaction, dry_run)
            if step.action == "stays":
                done.stayed += 1
            else:
                done.moved += 1
            done.steps.append(step)
            if on_step is not None:
                on_step(step)
        if queue.kind == "unrouted" and done.moved and not dry_run:
            again = await channel.declare_queue(queue.name, passive=True)
            done.back = again.declaration_result.message_count or 0
    return done


async def _replay_one(
    copies: AmqpConnection,
    incoming: AbstractIncomingMessage,
    message: ReceivedMessage,
    queue: HeldQueue,
    redaction: Redaction,
    dry_run: bool,
) -> Step:
    plan = plan_replay(message, queue, redaction)
    if isinstance(plan, Stay):
        return Step("stays", message, plan.reason)
    if dry_run:
        return Step("would replay", message, f"-> {plan.destination}")
    await _publish(copies, plan)
    await incoming.ack()
    return Step("replayed", message, f"-> {plan.destination}")


@asynccontextmanager
async def _borrowed(
    url: str, name: str
) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue, int]]:
    """A channel, the queue ``name`` and how many messages it holds ready.

    Closing the connection gives back every message taken and not acknowledged.
    """
    async with await connect(url) as connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            raise ToolFailed(f"no queue {name!r} on this broker") from None
        declared = queue.declaration_result
        yield channel, queue, declared.message_count or 0


async def _take_all(
    queue: AbstractQueue, count: int, *, keep: int
) -> AsyncIterator[AbstractIncomingMessage]:
    """Take ``count`` messages, oldest first, and yield the first ``keep`` of them."""
    for taken in range(count):
        message = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_S)
        if message is None:  # another reader holds the rest
            return
        if taken < keep:
            yield message


async def _publish(connection: AmqpConnection, plan: Replay) -> None:
    try:
        await confirm_or_fail(connection, plan.exchange, plan.message)
    except PublishFailed as e:
        if e.cause == "publish-unroutable":  # only the default exchange returns: no such queue
            raise ToolFailed(f"{plan.destination} does not exist: nothing removed") from None
        raise ToolFailed(f"{e.detail} for {plan.destination}: nothing removed") from None


def _say(step: Step) -> None:
    # Said as it happens: an operator watching a long replay sees where it is.
    message = step.message
    event = message.type or "-"
    print(f"{step.action:<12}  {message.message_id or '-'}  {event:<14}  {step.detail}", flush=True)


def _warn_if_looked_at_often(messages: list[ReceivedMessage]) -> None:
    looks = max((message.looks for message in messages), default=0)
    if looks >= LOOKS_BEFORE_WARNING:
        print(
            f"warning: a message here was delivered {looks} times. RabbitMQ 4.0 to 4.2 count "
            "every look and drop a message at the queue's delivery limit (20 by default): "
            "replay these, or raise the limit with a policy (see README, Operations).",
            file=sys.stderr,
        )
