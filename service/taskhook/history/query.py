"""What the event index holds and how it is asked, as plain data: no database, no broker.

Times are Unix milliseconds. ``received_at`` is when taskhook received the delivery (the window
``--since``/``--until`` select on); ``updated_at`` is the task's ``status.updatedAt``, which
orders a task's timeline even when its events arrived out of order.
"""

from dataclasses import dataclass
from typing import Any

from taskhook.core.delivered import DeliveredAs
from taskhook.core.message import PublishedTaskEvent
from taskhook.core.wire import iso_time
from taskhook.tasks.records import PHASE_RANK

DEFAULT_LIMIT = 100
# Two events of a task with the same status.updatedAt: the later phase, then the event Livepeer
# sends later (a final task.updated comes before its task.completed).
EVENT_RANK = {"task.spawned": 0, "task.updated": 1, "task.completed": 2, "task.failed": 2}
MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to find. Every field given narrows the search; the latest ``limit`` matches
    are returned, oldest first (a timeline)."""

    task_id: str | None = None
    event_id: str | None = None
    events: tuple[str, ...] = ()  # task.completed, ...
    task_types: tuple[str, ...] = ()  # upload, transcode-file, ...
    since_ms: int | None = None  # received at or after
    until_ms: int | None = None  # received before
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        since, until = self.since_ms, self.until_ms
        if since is not None and until is not None and until <= since:
            raise ValueError("the window ends before it starts: --until must be after --since")


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """One event as the index keeps it."""

    id: str
    event: str
    task_id: str | None
    task_type: str | None
    phase: str | None
    progress: float | None
    updated_at: int
    received_at: int
    routing_key: str
    reconciled: str | None  # where `taskhook reconcile` found it, for a reconciled event
    replayed: str | None  # the replay run that delivered it, if the original never arrived

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` line: every field, and the times as ISO 8601 too."""
        return {
            "id": self.id,
            "event": self.event,
            "task_id": self.task_id,
            "task_type": self.task_type,
            "phase": self.phase,
            "progress": self.progress,
            "updated_at": iso_time(self.updated_at),
            "received_at": iso_time(self.received_at),
            "routing_key": self.routing_key,
            "reconciled": self.reconciled,
            "replayed": self.replayed,
        }


def index_row(
    event: PublishedTaskEvent, delivered: DeliveredAs | None, *, indexed_at_ms: int
) -> dict[str, Any]:
    """The index's row for a handled task event, ``delivered`` as it was; without a received-at
    header (an event published before taskhook set one), the time it was indexed stands in."""
    status = event.task.status
    received = delivered.received_at_ms if delivered else None
    return {
        "id": event.id,
        "event": event.event,
        "task_id": event.task.id,
        "task_type": event.task.type,
        "phase": status.phase,
        "rank": timeline_rank(status.phase, event.event),
        "progress": status.progress,
        "updated_at": status.updated_at,
        "received_at": received if received is not None else indexed_at_ms,
        "routing_key": delivered.routing_key if delivered else f"{event.event}.{event.task.type}",
        "reconciled": delivered.reconciled if delivered else None,
        "replayed": delivered.replay_run if delivered else None,
        "indexed_at": indexed_at_ms,
    }


def timeline_rank(phase: str, event: str) -> int:
    """Orders a task's events that share a ``status.updatedAt``."""
    phase_rank = next((rank for name, rank in PHASE_RANK.items() if name == phase), 3)
    return phase_rank * 10 + EVENT_RANK.get(event, 1)


def indexed_event(row: dict[str, Any]) -> IndexedEvent:
    """A row read back from the index."""
    fields = IndexedEvent.__dataclass_fields__
    return IndexedEvent(**{name: row[name] for name in fields})
