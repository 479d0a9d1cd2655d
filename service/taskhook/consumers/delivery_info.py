"""What a handler may need to know about the message its event came in, beyond the event.

Inside a handler, ``current_delivery()`` says it; inside a batch handler,
``current_deliveries()`` says it for each event, in the events' order::

    from taskhook.consumers import TaskEvent, consumer, current_delivery

    @consumer("audit", "task.completed.*")
    async def audit(event: TaskEvent) -> None:
        delivery = current_delivery()
        if delivery.attempt > 1 or delivery.replayed:
            ...  # seen before, perhaps: the event id says for sure

The toolkit sets it around each handler call (a context variable, so concurrent handlers each
see their own); outside one, the functions raise ``LookupError``.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from taskhook.broker.amqp import Delivered
from taskhook.core.delivered import DeliveredAs, dedup_key, delivered_as
from taskhook.core.held import REPLAYED_HEADER
from taskhook.core.recovery import RECONCILED_HEADER
from taskhook.core.retry import attempts_made, original_routing_key


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """One delivered message, as the broker handed it over (its body is the event)."""

    message_id: str | None
    """The event's id (Livepeer's, or reconcile's derived one): what handlers dedupe by."""
    routing_key: str
    """The key it was published with (``task.completed.upload``), also on a retry."""
    attempt: int
    """1 on the first try; each retry after a failure of this consumer's handler adds one."""
    redelivered: bool
    """The broker delivered it before without an ack (a crash, a lost connection)."""
    headers: Mapping[str, object]
    """Every AMQP header, taskhook's ``x-taskhook-*`` and the publisher's."""

    @property
    def reconciled(self) -> str | None:
        """Set when ``taskhook reconcile`` published it rather than the webhook:
        ``delivery-log`` (a lost delivery recovered) or ``task-list`` (a task's state)."""
        value = self.headers.get(RECONCILED_HEADER)
        return value if isinstance(value, str) else None

    @property
    def replayed(self) -> str | None:
        """Set when ``taskhook replay`` published it again: the queue it was held back in, or
        the archive stream for ``replay --archive``."""
        value = self.headers.get(REPLAYED_HEADER)
        return value if isinstance(value, str) else None

    @property
    def replay_run(self) -> str | None:
        """The ``replay --archive`` run that sent this copy; None for any other message."""
        return self.facts().replay_run

    @property
    def dedup_key(self) -> str:
        """What to remember to handle this message once: the event id, and for a copy sent by
        ``replay --archive`` its run, so a replayed window reaches the handler once per run
        though its ids were seen before (``taskhook.core.delivered``)."""
        return dedup_key(self.message_id or "", self.facts())

    def facts(self) -> DeliveredAs:
        """Routing key, when taskhook received it, reconciled, replay run: what the event index
        keeps."""
        return delivered_as(self.routing_key, self.headers)


# The messages themselves: a DeliveryInfo is made only for a handler that asks, so a consumer
# that never does pays one context-variable set and reset per call, not a copy of its headers.
_current: ContextVar[Sequence[Delivered]] = ContextVar("taskhook_deliveries")


def current_delivery() -> DeliveryInfo:
    """The message of the event the running handler was called with.

    Raises ``LookupError`` outside a handler, or in a batch handler (use
    ``current_deliveries``)."""
    messages = _current.get()
    if len(messages) != 1:
        raise LookupError("a batch handler has several deliveries: use current_deliveries()")
    return delivery_info(messages[0])


def current_deliveries() -> tuple[DeliveryInfo, ...]:
    """The messages of the events the running (batch) handler was called with, in order.

    Raises ``LookupError`` outside a handler."""
    return tuple(delivery_info(message) for message in _current.get())


def delivery_info(message: Delivered) -> DeliveryInfo:
    headers = message.headers
    return DeliveryInfo(
        message_id=message.message_id,
        routing_key=original_routing_key(headers, message.routing_key),
        attempt=attempts_made(headers) + 1,
        redelivered=message.redelivered,
        headers=dict(headers),
    )


@contextmanager
def delivering(messages: Sequence[Delivered]) -> Iterator[None]:
    """Make ``messages`` the current deliveries for the handler call inside."""
    token = _current.set(messages)
    try:
        yield
    finally:
        _current.reset(token)
