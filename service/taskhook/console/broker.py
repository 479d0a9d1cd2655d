"""What the console reads from the broker and does to it, through the operator tools' functions.

``taskhook inspect``, ``replay`` and ``tail`` and these pages are the same code: the same rules
for what a replay does, the same way of looking without removing anything.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from taskhook.broker.topology import ConsumerTopology, Topology
from taskhook.core.errors import PublishFailed
from taskhook.core.held import HeldQueue
from taskhook.core.redaction import Redaction
from taskhook.history.archive import ArchiveMissing, ArchiveReader
from taskhook.history.query import IndexedEvent
from taskhook.history.replay import ReplayWindow, matching, replay_window
from taskhook.history.show import archive_missing
from taskhook.tools import held, held_replay, tail
from taskhook.tools.broker import QueueState, ToolFailed, connect, publishing, queue_state


@dataclass(frozen=True, slots=True)
class HeldCount:
    """A held-back queue and how many messages it holds ready (None: not declared yet)."""

    queue: HeldQueue
    messages: int | None


@dataclass(frozen=True, slots=True)
class ConsumerState:
    """One registered consumer's queues as the broker has them now; None where not declared."""

    name: str
    bindings: tuple[str, ...]
    queue: QueueState | None
    retrying: int
    dead_queue: str
    dead: int | None


@dataclass(frozen=True)
class BrokerView:
    """The broker as the console sees it: the events topology and the registered consumers'.

    ``amqp_url`` carries the password: it is handed to the tools and never to a template.
    """

    amqp_url: str
    topology: Topology
    consumers: tuple[ConsumerTopology, ...]
    redaction: Redaction

    def held_queues(self) -> list[HeldQueue]:
        """The rejected and unrouted queues, then each consumer's dead queue."""
        names = [self.topology.rejected_queue, self.topology.unrouted_queue]
        names += [consumer.dead_queue for consumer in self.consumers]
        return [queue for name in names if (queue := self.topology.held_queue(name))]

    def held_queue(self, name: str) -> HeldQueue | None:
        """The held-back queue ``name`` (any consumer's dead queue, registered or not, as for
        ``taskhook inspect``); None for a queue that holds nothing back."""
        return self.topology.held_queue(name)

    async def held_counts(self) -> list[HeldCount]:
        """How many each held-back queue holds, without taking anything from it."""
        async with await connect(self.amqp_url) as connection:
            states = [await queue_state(connection, q.name) for q in self.held_queues()]
        return [
            HeldCount(queue, state.messages if state else None)
            for queue, state in zip(self.held_queues(), states, strict=True)
        ]

    async def look(self, queue: HeldQueue, *, limit: int) -> held.Look:
        """The head of ``queue``, as ``taskhook inspect`` sees it; removes nothing."""
        return await held.look(self.amqp_url, queue, limit=limit)

    async def replay(
        self, queue: HeldQueue, *, only: str | None, dry_run: bool
    ) -> held_replay.Replayed:
        """``taskhook replay`` of the whole queue, or of the messages ``only`` names (by message
        id, as the page links them)."""
        return await held_replay.replay_held(
            self.amqp_url,
            self.topology,
            queue,
            limit=None,
            dry_run=dry_run,
            redaction=self.redaction,
            wanted=only,
        )

    async def consumer_states(self) -> list[ConsumerState]:
        """Each registered consumer's queue, retry queues and dead queue, counted."""
        states = []
        async with await connect(self.amqp_url) as connection:
            for consumer in self.consumers:
                own = await queue_state(connection, consumer.queue)
                retries = [
                    await queue_state(connection, consumer.retry_queue(delay))
                    for delay in consumer.retry_delays_ms
                ]
                dead = await queue_state(connection, consumer.dead_queue)
                states.append(
                    ConsumerState(
                        consumer.name,
                        consumer.bindings,
                        own,
                        sum(retry.messages for retry in retries if retry),
                        consumer.dead_queue,
                        dead.messages if dead else None,
                    )
                )
        return states

    async def body_of(self, event: IndexedEvent) -> bytes | None:
        """The body ``event`` was published with (redacted as it was published), read from the
        archive; None once the archive's retention dropped it."""
        async with await connect(self.amqp_url) as connection:
            reader = ArchiveReader(await connection.channel(), self.topology)
            try:
                return await reader.body_of(event)
            except ArchiveMissing as e:
                raise ToolFailed(archive_missing(str(e))) from None

    async def count_window(self, window: ReplayWindow) -> int:
        """How many archived messages a replay of ``window`` would copy: the dry run."""
        async with await connect(self.amqp_url) as connection:
            reader = ArchiveReader(await connection.channel(), self.topology)
            try:
                return len([archived async for archived in matching(reader, window)])
            except ArchiveMissing as e:
                raise ToolFailed(archive_missing(str(e))) from None

    async def replay_window(self, window: ReplayWindow) -> int:
        """``taskhook replay --archive``: copy ``window`` to its consumer's queue alone, each
        copy confirmed; how many."""
        async with (
            await connect(self.amqp_url) as connection,
            publishing(self.amqp_url, timeout_s=held_replay.PUBLISH_TIMEOUT_S) as copies,
        ):
            reader = ArchiveReader(await connection.channel(), self.topology)
            try:
                return await replay_window(reader, copies, window)
            except ArchiveMissing as e:
                raise ToolFailed(archive_missing(str(e))) from None
            except PublishFailed as e:
                raise ToolFailed(
                    f"{e.detail} for {window.queue}: replay the window again"
                ) from None

    def watching(
        self, patterns: Sequence[str]
    ) -> AbstractAsyncContextManager[AsyncIterator[AbstractIncomingMessage]]:
        """What is published from now on, as ``taskhook tail`` watches it."""
        return tail.watching(self.amqp_url, self.topology.exchange, patterns)
