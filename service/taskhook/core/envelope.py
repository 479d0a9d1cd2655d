"""The envelope every Livepeer delivery carries, whatever the event (docs/livepeer-webhooks.md 1.2).

Each family of events (``taskhook.core.families``) extends it with the model of its payload.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from taskhook.core.events import EVENT_NAME_PATTERN
from taskhook.core.limits import SHORTSTR_BYTES, fits_shortstr
from taskhook.core.wire import Millis, WireModel

NonEmpty = Annotated[str, Field(min_length=1, max_length=255)]


def _fits_shortstr(value: str) -> str:
    # The event id becomes the AMQP message_id: past a short string the publish would fail.
    if not fits_shortstr(value):
        raise ValueError(f"must be at most {SHORTSTR_BYTES} bytes of UTF-8")
    return value


EventId = Annotated[NonEmpty, AfterValidator(_fits_shortstr)]


class Envelope(WireModel):
    """What every Livepeer delivery carries, whatever the event. ``stream`` (an object on the
    events about a stream) and ``payload`` are each family's to type."""

    id: EventId
    webhook_id: NonEmpty
    created_at: Millis
    timestamp: Millis
    event: Annotated[str, Field(pattern=EVENT_NAME_PATTERN, max_length=200)]


class EventEnvelope(Envelope):
    """An event of no family taskhook knows: the envelope is checked, the payload passed through."""

    stream: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
