"""``taskhook retire``: remove a retired consumer's queues and bindings, so nothing keeps filling.

What belongs to a consumer is what ``taskhook.broker.topology`` says it declares: its queue, one
retry queue per configured delay, its dead queue, and its queue's bindings to the events
exchange. Nothing else is touched. A queue that holds messages, or that something still
consumes, is refused unless forced: those messages would be gone for good.
"""

from aio_pika.abc import AbstractConnection

from taskhook.broker.topology import BindingSpec, ConsumerTopology
from taskhook.tools.broker import QueueState, ToolFailed, connect, queue_state
from taskhook.tools.columns import columns


async def retire(url: str, topology: ConsumerTopology, *, force: bool, dry_run: bool) -> int:
    """Unbind and delete ``topology``'s queues; print what was (or would be) removed.

    Raises ``ToolFailed`` when a queue holds messages or has consumers and ``force`` is not
    set: then nothing is removed.
    """
    async with await connect(url) as connection:
        found = [q for name in queue_names(topology) if (q := await queue_state(connection, name))]
        if not force:
            _refuse_if_in_use(topology.name, found)
        bindings = bindings_of(topology) if found and found[0].name == topology.queue else ()
        what = "would remove" if dry_run else "removed"
        rows = [("binding", f"{b.exchange} {b.routing_key} -> {b.queue}", what) for b in bindings]
        rows += [("queue", q.name, f"{what} ({q.messages} messages)") for q in found]
        if not dry_run:
            await _remove(connection, bindings, found)
    for line in columns(rows) or [f"nothing of consumer {topology.name!r} is on this broker"]:
        print(line)
    return 0


def queue_names(topology: ConsumerTopology) -> list[str]:
    """The consumer's queues, in the order they are removed: its own first, so nothing is
    dead-lettered into it from a retry queue while the others go."""
    retries = [topology.retry_queue(delay) for delay in topology.retry_delays_ms]
    return [topology.queue, *retries, topology.dead_queue]


def bindings_of(topology: ConsumerTopology) -> tuple[BindingSpec, ...]:
    """The consumer queue's bindings to the events exchange."""
    return tuple(b for b in topology.declarations().bindings if b.queue == topology.queue)


def _refuse_if_in_use(name: str, found: list[QueueState]) -> None:
    for queue in found:
        if queue.consumers:
            raise ToolFailed(
                f"{queue.name} is still consumed ({queue.consumers} consumer(s)): stop "
                f"`taskhook consume {name}` first, or --force; nothing removed"
            )
        if queue.messages:
            raise ToolFailed(
                f"{queue.name} holds {queue.messages} message(s): inspect or replay them first, "
                "or --force to drop them; nothing removed"
            )


async def _remove(
    connection: AbstractConnection,
    bindings: tuple[BindingSpec, ...],
    found: list[QueueState],
) -> None:
    for binding in bindings:  # first: nothing new arrives while the queues go
        async with connection.channel() as channel:
            underlay = await channel.get_underlay_channel()
            await underlay.queue_unbind(
                binding.queue, binding.exchange, routing_key=binding.routing_key or ""
            )
    async with connection.channel() as channel:
        for queue in found:
            # Quorum queues refuse if-empty and if-unused (NOT_IMPLEMENTED): the check before,
            # after the unbinding, is what keeps messages from being dropped unasked.
            await channel.queue_delete(queue.name)
