"""What a consumer is: a name, the routing patterns it binds, and an async handler.

The toolkit (``taskhook.consumers.runner``) owns everything else: queues, acks, retries, the dead
queue, metrics and shutdown. A handler that returns has handled the event; one that raises
``PermanentError`` will never handle it, and the message is parked at once; any other exception
is taken as transient and the message is retried later. Handlers must be idempotent: a message
can arrive more than once (the broker redelivers what was not acked before a crash).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import TypeAdapter

from taskhook.broker.topology import check_consumer_name
from taskhook.consumers.events import event_type_for
from taskhook.core.published import PublishedBase
from taskhook.settings import ConsumerSettings

E = TypeVar("E", bound=PublishedBase)
Handler = Callable[[E], Awaitable[None]]
BatchHandler = Callable[[Sequence[E]], Awaitable[None]]


class PermanentError(Exception):
    """Raise from a handler for an event it can never handle: it goes to the dead queue now."""


class TransientError(Exception):
    """Raise from a handler to say "not now": the event is retried after a delay.

    Any exception other than ``PermanentError`` is treated the same way; this one just says so.
    """


@dataclass(frozen=True, slots=True)
class Running(Generic[E]):
    """A started consumer: its handler, and any read-only routes its process should serve.

    ``batch``, when given, takes several events at once, in delivery order, and must apply all
    of them or none (one transaction, say): the messages are acknowledged together once it
    returns. If it raises, each of its events goes through ``handler`` on its own, with the
    usual retries and dead queue, so one bad event never holds back the others.
    """

    handler: Handler[E]
    routes: Sequence[web.AbstractRouteDef] = ()
    batch: BatchHandler[E] | None = None


Opener = Callable[[ConsumerSettings], AbstractAsyncContextManager[Running[E]]]


@dataclass(frozen=True)
class Consumer(Generic[E]):
    """A named consumer. ``open`` acquires what the handler needs and releases it on exit."""

    name: str
    bindings: tuple[str, ...]
    open: Opener[E]
    event_type: Any  # E's class, or a union of them (``taskhook.consumers.events.AnyEvent``)
    summary: str = ""
    _adapter: TypeAdapter[E] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_consumer_name(self.name)  # it names queues: say so now, not at start-up
        if not self.bindings:
            raise ValueError(f"consumer {self.name!r} binds no routing pattern")
        object.__setattr__(self, "_adapter", TypeAdapter(self.event_type))

    def parse(self, body: bytes) -> E:
        """The validated event, or ``pydantic.ValidationError``."""
        return self._adapter.validate_json(body)


def consumer(
    name: str, *bindings: str, event_type: Any = None
) -> Callable[[Handler[E]], Consumer[E]]:
    """Declare a consumer from a plain handler that needs nothing opened and closed::

    @consumer("audit", "task.completed.*")
    async def audit(event: TaskEvent) -> None: ...

    @consumer("ready-assets", "asset.ready")
    async def publish_video(event: AssetEvent) -> None: ...

    Each message is validated as its family's event (``taskhook.consumers.events``); bindings
    of one family get that family's class, bindings of several get each message as its own.
    """
    chosen = event_type if event_type is not None else event_type_for(bindings)

    def declare(handler: Handler[Any]) -> Consumer[Any]:
        @asynccontextmanager
        async def open_handler(settings: ConsumerSettings) -> AsyncIterator[Running[Any]]:
            yield Running(handler)

        return Consumer(
            name=name,
            bindings=bindings,
            open=open_handler,
            event_type=chosen,
            summary=(handler.__doc__ or "").strip().split("\n")[0],
        )

    return declare
