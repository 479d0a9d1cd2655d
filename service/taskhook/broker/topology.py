"""The one place that knows the RabbitMQ topology taskhook publishes into.

::

    livepeer.tasks            topic, durable; what consumers bind their queues to
      └─ alternate exchange → livepeer.tasks.unrouted (fanout) → queue livepeer.tasks.unrouted
    default exchange        → queue livepeer.tasks.rejected  (signed deliveries we refused)

With the archive on (the default), taskhook publishes into its front instead::

    livepeer.tasks.archive    fanout, durable; where every event is published
      ├─ queue livepeer.tasks.archive   a stream: every message kept, retention by age and size
      └─ exchange livepeer.tasks        (bound: everything the archive takes, the exchange gets)

A front exchange rather than the stream bound to ``livepeer.tasks`` with ``#``: bound there, every
message would be routed to a queue, and the alternate exchange, which holds what no consumer is
bound for, would never see one again. RabbitMQ routes through exchange-to-exchange bindings one
exchange at a time, each with its own alternate exchange, so both keep working. A publish is
confirmed once the stream and every consumer queue have it: a 2xx implies archived.

Every name derives from the configured exchange name, so a test can own a whole private set.
Queues are quorum queues: replicated in a cluster, and they never lose a confirmed message.

Each consumer ``<name>`` owns, bound to the events exchange with its routing patterns::

    taskhook.<name>                  its queue (taskhook.<exchange>.<name> off the default
                                     exchange); a message redelivered too often → .dead
    taskhook.<name>.retry.<delay>ms  one per retry delay: message TTL, then back to its queue
    taskhook.<name>.dead             what it could not handle, with headers that say why

One queue per delay keeps every message in it expiring in arrival order, so a long delay never
holds back a short one, and the delay in the name lets a changed setting declare new queues
instead of clashing with the arguments of the old ones.

What to declare is data (``Declarations``), free of any client library: ``taskhook.broker.declare``
declares it, ``taskhook topology`` prints exactly what the services declare, and the tools that
read held-back queues know which queues those are.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from taskhook.core.held import HeldQueue


FieldTable = dict[str, str | int]
"""Declaration arguments, as AMQP carries them."""
ExchangeType = Literal["topic", "fanout"]

T = TypeVar("T")

DURABLE_QUEUE_ARGUMENTS: FieldTable = {"x-queue-type": "quorum"}
CONSUMER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The exchange whose consumers' queues are named taskhook.<name>: the default, and what every
# deployment before the exchange was part of the name used. Another exchange's consumers get
# taskhook.<exchange>.<name>, so two deployments sharing a broker never share a queue.
DEFAULT_EXCHANGE = "livepeer.tasks"
# RabbitMQ retires a stream's data a whole segment at a time: smaller than its 500 MB default,
# so a byte cap of a few GB is kept within a tenth or so.
STREAM_SEGMENT_BYTES = 100_000_000
MAX_QUEUE_NAME_BYTES = 255  # AMQP's short string
# A message that kills its consumer every time (so it is never settled) is parked after this
# many deliveries instead of crashing the consumer forever. Retries do not count: each retry
# is a new message.
DELIVERY_LIMIT = 10
# Dead-lettering that waits for the target queue's confirm: a retry is never lost in transit.
AT_LEAST_ONCE: FieldTable = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    name: str
    type: ExchangeType
    arguments: FieldTable = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    arguments: FieldTable


@dataclass(frozen=True, slots=True)
class BindingSpec:
    exchange: str
    queue: str
    routing_key: str | None = None  # a fanout exchange ignores it


@dataclass(frozen=True, slots=True)
class ExchangeBindingSpec:
    """Everything ``source`` routes, ``destination`` routes again (by its own bindings)."""

    source: str
    destination: str
    routing_key: str = ""  # a fanout source ignores it


@dataclass(frozen=True, slots=True)
class Declarations:
    """Everything to declare, in an order that declares each thing before it is used."""

    exchanges: tuple[ExchangeSpec, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    bindings: tuple[BindingSpec, ...] = ()
    exchange_bindings: tuple[ExchangeBindingSpec, ...] = ()

    def __add__(self, other: "Declarations") -> "Declarations":
        return Declarations(
            _unique(self.exchanges + other.exchanges, key=lambda e: e.name),
            _unique(self.queues + other.queues, key=lambda q: q.name),
            _unique(self.bindings + other.bindings, key=lambda b: b),
            _unique(self.exchange_bindings + other.exchange_bindings, key=lambda b: b),
        )


@dataclass(frozen=True, slots=True)
class ArchiveRetention:
    """How long and how much the archive stream keeps: whichever limit is reached first.

    RabbitMQ drops whole segments, oldest first, so it keeps a little more than this, never less.
    """

    max_age_s: int
    max_bytes: int

    def arguments(self) -> FieldTable:
        return {
            "x-queue-type": "stream",
            "x-max-age": f"{self.max_age_s}s",
            "x-max-length-bytes": self.max_bytes,
            "x-stream-max-segment-size-bytes": min(STREAM_SEGMENT_BYTES, self.max_bytes),
        }


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: str
    # None: no archive; the ingest publishes to the events exchange itself.
    archive: ArchiveRetention | None = None

    @property
    def archive_queue(self) -> str:
        """The stream that keeps every event (and the front exchange's name)."""
        return f"{self.exchange}.archive"

    @property
    def publish_exchange(self) -> str:
        """Where every event is published: the archive's front, or the events exchange."""
        return self.archive_queue if self.archive is not None else self.exchange

    @property
    def unrouted_exchange(self) -> str:
        return f"{self.exchange}.unrouted"

    @property
    def unrouted_queue(self) -> str:
        return f"{self.exchange}.unrouted"

    @property
    def rejected_queue(self) -> str:
        return f"{self.exchange}.rejected"

    def declarations(self) -> Declarations:
        """A message no consumer queue is bound for goes to the alternate exchange instead of
        vanishing; with the archive, every message is kept in the stream first."""
        events = Declarations(
            exchanges=(
                ExchangeSpec(self.unrouted_exchange, "fanout"),
                ExchangeSpec(
                    self.exchange,
                    "topic",
                    {"alternate-exchange": self.unrouted_exchange},
                ),
            ),
            queues=(
                QueueSpec(self.unrouted_queue, DURABLE_QUEUE_ARGUMENTS),
                QueueSpec(self.rejected_queue, DURABLE_QUEUE_ARGUMENTS),
            ),
            bindings=(BindingSpec(self.unrouted_exchange, self.unrouted_queue),),
        )
        if self.archive is None:
            return events
        front = self.archive_queue
        return events + Declarations(
            exchanges=(ExchangeSpec(front, "fanout"),),
            queues=(QueueSpec(self.archive_queue, self.archive.arguments()),),
            bindings=(BindingSpec(front, self.archive_queue),),
            exchange_bindings=(ExchangeBindingSpec(front, self.exchange),),
        )

    def held_queue(self, name: str) -> "HeldQueue | None":
        """What holds messages back under ``name``, or None if that is no such queue."""
        # Imported here: the services that declare this topology never read held-back queues.
        from taskhook.core.held import HeldQueue

        if name == self.rejected_queue:
            return HeldQueue(name, "rejected", self.exchange)
        if name == self.unrouted_queue:
            return HeldQueue(name, "unrouted", self.exchange)
        consumer = name.removeprefix(f"{self.consumer_prefix}.").removesuffix(".dead")
        if name == f"{self.consumer_prefix}.{consumer}.dead" and CONSUMER_NAME.match(consumer):
            home = f"{self.consumer_prefix}.{consumer}"
            return HeldQueue(name, "dead", self.exchange, home_queue=home)
        return None

    @property
    def consumer_prefix(self) -> str:
        """What this exchange's consumers' queue names start with."""
        if self.exchange == DEFAULT_EXCHANGE:
            return "taskhook"
        return f"taskhook.{self.exchange}"


@dataclass(frozen=True, slots=True)
class ConsumerTopology:
    """The queues of one consumer, and what they are bound to."""

    events: Topology
    name: str
    bindings: tuple[str, ...]
    retry_delays_ms: tuple[int, ...]

    def __post_init__(self) -> None:
        check_consumer_name(self.name)
        longest = max((self.retry_queue(d) for d in self.retry_delays_ms), key=len, default="")
        if len(max(longest, self.dead_queue, key=len).encode()) > MAX_QUEUE_NAME_BYTES:
            raise ValueError(
                f"the exchange and consumer names make queue names over {MAX_QUEUE_NAME_BYTES} "
                "bytes: shorten one"
            )

    @property
    def queue(self) -> str:
        """``taskhook.<name>`` on the default exchange, else ``taskhook.<exchange>.<name>``."""
        return f"{self.events.consumer_prefix}.{self.name}"

    @property
    def dead_queue(self) -> str:
        return f"{self.queue}.dead"

    def retry_queue(self, delay_ms: int) -> str:
        return f"{self.queue}.retry.{delay_ms}ms"

    def declarations(self) -> Declarations:
        """The events exchange's declarations, then the consumer's queues and bindings."""
        own = Declarations(
            queues=(
                QueueSpec(self.dead_queue, DURABLE_QUEUE_ARGUMENTS),
                _dead_lettering(self.queue, to=self.dead_queue, limit=DELIVERY_LIMIT),
                *(
                    _dead_lettering(self.retry_queue(delay_ms), to=self.queue, ttl_ms=delay_ms)
                    for delay_ms in self.retry_delays_ms
                ),
            ),
            bindings=tuple(
                BindingSpec(self.events.exchange, self.queue, key) for key in self.bindings
            ),
        )
        return self.events.declarations() + own


def check_consumer_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` can name a consumer's queues."""
    if not CONSUMER_NAME.match(name):
        raise ValueError(f"consumer name {name!r} must match {CONSUMER_NAME.pattern}")


def _dead_lettering(name: str, *, to: str, limit: int = 0, ttl_ms: int = 0) -> QueueSpec:
    """A quorum queue whose dead letters go, confirmed, to the queue ``to``."""
    arguments: FieldTable = {
        **DURABLE_QUEUE_ARGUMENTS,
        **AT_LEAST_ONCE,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": to,
    }
    if limit:
        arguments["x-delivery-limit"] = limit
    if ttl_ms:
        arguments["x-message-ttl"] = ttl_ms
    return QueueSpec(name, arguments)


def _unique(items: Iterable[T], *, key: Callable[[T], object]) -> tuple[T, ...]:
    seen: set[object] = set()
    kept = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return tuple(kept)
