"""What a consumer knows of a message beside its body: how it was routed, when taskhook received
it, and whether it is a reconciled or a replayed copy.

A replayed copy (``taskhook replay --archive``) carries the original's ``message_id`` and
headers, plus ``x-taskhook-replayed`` (where it was replayed from: the archive stream, as for a
held-back queue's replay) and ``x-taskhook-replay-run`` naming its run. A consumer that keeps
"message ids handled" would drop it as seen, and a fixed consumer would never re-process the
window; so the key a consumer deduplicates on is ``dedup_key``: the event id for a live message,
the event id and the replay run for a replayed one. One replayed message is still applied once
per run.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from taskhook.core.recovery import RECONCILED_HEADER

REPLAY_RUN_HEADER = "x-taskhook-replay-run"
# Set by taskhook on every event it publishes (see taskhook.core.message).
RECEIVED_AT_HEADER = "received-at"


@dataclass(frozen=True, slots=True)
class DeliveredAs:
    """How one message reached its consumer."""

    routing_key: str
    received_at_ms: int | None = None
    reconciled: str | None = None  # where `taskhook reconcile` found it
    replay_run: str | None = None  # the `taskhook replay --archive` run that sent this copy


def delivered_as(routing_key: str, headers: Mapping[str, object]) -> DeliveredAs:
    """The facts ``headers`` carry; a header that is missing or unreadable is None."""
    reconciled = headers.get(RECONCILED_HEADER)
    replay = headers.get(REPLAY_RUN_HEADER)
    return DeliveredAs(
        routing_key=routing_key,
        received_at_ms=parse_iso_ms(headers.get(RECEIVED_AT_HEADER)),
        reconciled=_text(reconciled),
        replay_run=_text(replay),
    )


def dedup_key(event_id: str, delivered: DeliveredAs | None) -> str:
    """What a consumer claims to handle a message once: the event id, and a replay's run."""
    if delivered is None or delivered.replay_run is None:
        return event_id
    return f"{event_id} replay {delivered.replay_run}"


def parse_iso_ms(value: object) -> int | None:
    """``2026-12-05T09:00:00.123Z`` (or a ``bytes`` of it) as ms since the epoch, else None."""
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round(moment.timestamp() * 1000)


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None
