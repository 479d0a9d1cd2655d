"""``taskhook inspect``, ``replay`` and ``discard``: read, recover or drop what a held-back queue
holds, all of it or the messages of one id.

Both take every message the queue holds ready when they start, oldest first, and keep them
unacknowledged while they work. What they do not remove goes back when their connection closes,
so a look changes nothing for good, and neither does a crash. They take them all even when told
to show or replay fewer: a quorum queue puts what it gets back behind what was given back before,
and taking only some would reorder the queue. A replay removes a message only after the broker
confirmed its copy: a crash between the two leaves both, never neither.
"""

import asyncio
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
    is_about,
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


async def look(url: str, queue: HeldQueue, *, limit: int, wanted: str | None = None) -> Look:
    """Up to ``limit`` messages from the head of ``queue`` (only those ``wanted`` names, by
    message id or task id, when given); removes nothing."""
    async with _borrowed(url, queue.name) as (_, source, held_back):
        taken = _take_all(source, held_back, keep=limit, only=_about(queue, wanted))
        messages = [message async for _, message in taken]
    return Look(held_back, messages)


async def inspect(
    url: str, queue: HeldQueue, *, limit: int, as_json_lines: bool, wanted: str | None = None
) -> int:
    """Print what ``look`` finds; remove nothing."""
    seen = await look(url, queue, limit=limit, wanted=wanted)
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
    wanted: str | None = None,
) -> int:
    """``taskhook replay``: ``replay_held``, each step printed as it happens."""
    done = await replay_held(
        url,
        topology,
        queue,
        limit=limit,
        dry_run=dry_run,
        redaction=redaction,
        wanted=wanted,
        on_step=_say,
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
    wanted: str | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Replayed:
    """Publish held-back messages again, oldest first, each removed once its copy is confirmed;
    only those ``wanted`` names (by message id or task id) when given.

    Those that must stay are left where they were. Stops at the first publish that fails
    (``ToolFailed``). A rejected delivery that now passes is published with ``redaction``, as
    the ingest would. ``on_step`` hears each message's step as it happens.
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
        keep = limit or held_back
        taken = _take_all(source, held_back, keep=keep, only=_about(queue, wanted))
        async for incoming, message in taken:
            step = await _replay_one(copies, incoming, message, topology, queue, redaction, dry_run)
            done.steps.append(step)
            if step.action == "stays":
                done.stayed += 1
            else:
                done.moved += 1
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
    topology: Topology,
    queue: HeldQueue,
    redaction: Redaction,
    dry_run: bool,
) -> Step:
    plan = plan_replay(message, queue, redaction)
    if isinstance(plan, Stay):
        return Step("stays", message, plan.reason)
    if dry_run:
        return Step("would replay", message, f"-> {plan.destination}")
    await _publish(copies, plan, topology)
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


async def discard(
    url: str, queue: HeldQueue, wanted: str, *, confirm: Callable[[str], bool]
) -> int:
    """Remove the messages ``wanted`` names (by message id or task id) from ``queue`` once
    ``confirm`` (asked with what they are) says yes; leave every other message where it was.
    Returns 1 when none is there."""
    async with _borrowed(url, queue.name) as (_, source, held_back):
        found = [pair async for pair in _take_all(source, held_back, only=_about(queue, wanted))]
        if not found:
            print(f"taskhook discard: no message of {wanted} in {queue.name}", file=sys.stderr)
            return 1
        for line in columns([summarize(message, queue).row() for _, message in found]):
            print(line)
        question = f"discard {len(found)} message(s) from {queue.name} for good? [y/N] "
        # Asked off the event loop: the connection keeps its heartbeats while a person reads.
        if not await asyncio.to_thread(confirm, question):
            print("nothing discarded")
            return 0
        for incoming, _ in found:
            await incoming.ack()
    print(f"discarded {len(found)} from {queue.name}")
    return 0


async def _take_all(
    queue: AbstractQueue,
    count: int,
    *,
    keep: int | None = None,
    only: Callable[[ReceivedMessage], bool] | None = None,
) -> AsyncIterator[tuple[AbstractIncomingMessage, ReceivedMessage]]:
    """Take ``count`` messages, oldest first, and yield the first ``keep`` of them (of those
    ``only`` accepts, when given)."""
    kept = 0
    for _ in range(count):
        incoming = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_S)
        if incoming is None:  # another reader holds the rest
            return
        message = received(incoming)
        if only is not None and not only(message):
            continue
        if keep is None or kept < keep:
            kept += 1
            yield incoming, message


def _about(queue: HeldQueue, wanted: str | None) -> Callable[[ReceivedMessage], bool] | None:
    return None if wanted is None else lambda message: is_about(message, queue, wanted)


async def _publish(connection: AmqpConnection, plan: Replay, topology: Topology) -> None:
    # To the events exchange through the archive's front, as every event is published.
    exchange = topology.publish_exchange if plan.exchange == topology.exchange else plan.exchange
    try:
        await confirm_or_fail(connection, exchange, plan.message)
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
