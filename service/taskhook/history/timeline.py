"""How indexed events are shown: a timeline for people, one JSON object a line for scripts."""

from collections.abc import Sequence

from taskhook.core.wire import iso_time
from taskhook.history.query import IndexedEvent
from taskhook.tools.columns import columns

HEADINGS = ("RECEIVED", "UPDATED", "EVENT", "PHASE", "PROGRESS", "TASK", "ID", "NOTE")


def timeline(events: Sequence[IndexedEvent]) -> list[str]:
    """One aligned line per event, oldest first, under a heading."""
    rows = [HEADINGS, *(_row(event) for event in events)]
    return columns(rows)


def _row(event: IndexedEvent) -> tuple[str, ...]:
    progress = "" if event.progress is None else f"{event.progress:.0%}"
    return (
        iso_time(event.received_at),
        iso_time(event.updated_at),
        event.event,
        event.phase or "",
        progress,
        f"{event.task_type or '-'} {event.task_id or '-'}",
        event.id,
        note(event),
    )


def note(event: IndexedEvent) -> str:
    """What set this event apart: reconciled, replayed."""
    if event.reconciled:
        return f"reconciled ({event.reconciled})"
    if event.replayed:
        return f"replayed (run {event.replayed})"
    return ""


def window_note(since_ms: int | None, kept_since_ms: int) -> str | None:
    """A line to say the window starts before what the archive keeps, else None."""
    if since_ms is None or since_ms >= kept_since_ms:
        return None
    return (
        f"note: the window starts before {iso_time(kept_since_ms)}, the oldest the archive "
        "keeps (TASKHOOK_ARCHIVE_MAX_AGE_S and _MAX_BYTES): older events are no longer listed"
    )
