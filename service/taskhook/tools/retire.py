"""``taskhook retire``: remove a retired consumer's queues and bindings, so nothing keeps filling.

What belongs to a consumer is what ``taskhook.broker.topology`` says it declares: its queue, one
retry queue per configured delay, its dead queue, and its queue's bindings to the events
exchange; and the retry queues of delays it may have run with before (the default delays,
and those named), since changing TASKHOOK_CONSUMER_RETRY_DELAYS_S leaves the old ones behind.
Nothing else is touched. A queue that holds messages, or that something still consumes, is
refused unless forced: those messages would be gone for good. A dry run refuses nothing: it
lists everything, says what is in use, and what a real run would refuse.
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from aio_pika.abc import AbstractConnection

from taskhook.broker.topology import BindingSpec, ConsumerTopology
from taskhook.tools.broker import ToolFailed, connect, queue_state
from taskhook.tools.columns import columns


@dataclass(frozen=True, slots=True)
class Found:
    """A queue of the consumer as the broker has it now."""

    name: str
    messages: int
    consumers: int

    @property
    def described(self) -> str:
        consumed = f", {self.consumers} consumer(s)" if self.consumers else ""
        return f"{self.messages} messages{consumed}"


async def retire(
    url: str,
    topology: ConsumerTopology,
    *,
    force: bool,
    dry_run: bool,
    former_delays_ms: Collection[int] = (),
    stale_only: bool = False,
) -> int:
    """Unbind and delete ``topology``'s queues (with ``stale_only``, only the retry queues of
    ``former_delays_ms`` it no longer uses); print what was (or would be) removed.

    Raises ``ToolFailed`` when a queue holds messages or has consumers and neither ``force``
    nor ``dry_run`` is set: then nothing is removed.
    """
    stale = stale_retry_queues(topology, former_delays_ms)
    wanted = stale if stale_only else queue_names(topology) + stale
    async with await connect(url) as connection:
        found = [q for name in wanted if (q := await _look(connection, name))]
        in_use = list(_in_use(topology.name, found))
        if in_use and not force and not dry_run:
            raise ToolFailed(in_use[0])
        whole = not stale_only and bool(found) and found[0].name == topology.queue
        bindings = bindings_of(topology) if whole else ()
        what = "would remove" if dry_run else "removed"
        rows = [("binding", f"{b.exchange} {b.routing_key} -> {b.queue}", what) for b in bindings]
        rows += [("queue", q.name, f"{what} ({q.described})") for q in found]
        if not dry_run:
            await _remove(connection, bindings, found)
    for line in columns(rows) or [f"nothing of consumer {topology.name!r} is on this broker"]:
        print(line)
    if dry_run and in_use and not force:
        print(f"without --force a real run would refuse: {in_use[0]}")
    return 0


def queue_names(topology: ConsumerTopology) -> list[str]:
    """The consumer's queues, in the order they are removed: its own first, so nothing is
    dead-lettered into it from a retry queue while the others go."""
    retries = [topology.retry_queue(delay) for delay in topology.retry_delays_ms]
    return [topology.queue, *retries, topology.dead_queue]


def stale_retry_queues(topology: ConsumerTopology, former_delays_ms: Collection[int]) -> list[str]:
    """Retry queues of delays the consumer may have run with and no longer does."""
    current = set(topology.retry_delays_ms)
    return [topology.retry_queue(d) for d in sorted(set(former_delays_ms) - current)]


def bindings_of(topology: ConsumerTopology) -> tuple[BindingSpec, ...]:
    """The consumer queue's bindings to the events exchange."""
    return tuple(b for b in topology.declarations().bindings if b.queue == topology.queue)


def _in_use(name: str, found: list[Found]) -> Iterator[str]:
    """Why each queue that is consumed or holds messages may not be removed unforced."""
    for queue in found:
        if queue.consumers:
            yield (
                f"{queue.name} is still consumed ({queue.consumers} consumer(s)): stop "
                f"`taskhook consume {name}` first, or --force; nothing removed"
            )
        elif queue.messages:
            yield (
                f"{queue.name} holds {queue.messages} message(s): inspect or replay them first, "
                "or --force to drop them; nothing removed"
            )


async def _look(connection: AbstractConnection, name: str) -> Found | None:
    state = await queue_state(connection, name)
    return Found(state.name, state.messages, state.consumers) if state is not None else None


async def _remove(
    connection: AbstractConnection,
    bindings: tuple[BindingSpec, ...],
    found: list[Found],
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
