"""``taskhook replay`` of a held-back queue: publish its messages again, all of them or the
messages of one id, oldest first.

A replay removes a message only after the broker confirmed its copy: a crash between the two
leaves both, never neither. What it does not remove goes back when its connection closes
(``taskhook.tools.borrowed``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from aio_pika.abc import AbstractIncomingMessage

from taskhook.broker.amqp import AmqpConnection
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.declare import declare_on
from taskhook.broker.topology import Topology
from taskhook.core.errors import PublishFailed
from taskhook.core.held import HeldQueue, Replay, Stay, plan_replay
from taskhook.core.message import ReceivedMessage
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.tools.borrowed import about, borrowed, take_all
from taskhook.tools.broker import ToolFailed, publishing

PUBLISH_TIMEOUT_S = 10.0


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
        borrowed(url, queue.name) as (channel, source, held_back),
        publishing(url, timeout_s=PUBLISH_TIMEOUT_S) as copies,
    ):
        if queue.kind != "dead" and not dry_run:
            await declare_on(copies, topology.declarations())
        # What was there at the start: a copy that lands back in this queue (an event still
        # unrouted) is not taken again.
        keep = limit or held_back
        taken = take_all(source, held_back, keep=keep, only=about(queue, wanted))
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
