"""The base every wire model shares: strict where it matters, lenient where the wire is.

Livepeer's schema says ``additionalProperties: false`` but real deliveries carry extra keys
(docs/livepeer-webhooks.md section 6), so unknown keys are accepted and kept. Types are strict:
a number sent as a string is a broken sender, not something to coerce silently.
"""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A JSON object as Livepeer sends it: camelCase keys, extra keys kept, strict types."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# The last millisecond of year 9999: past it no datetime exists, so a timestamp there could be
# neither published (AMQP's timestamp property) nor shown; it is refused as invalid instead.
MAX_MILLIS = 253_402_300_799_999

Millis = Annotated[int, Field(ge=0, le=MAX_MILLIS, description="Unix time in milliseconds")]
"""A point in time as Livepeer sends it: integer milliseconds since the epoch, up to 9999."""


def iso_time(ms: int) -> str:
    """``2026-11-28T21:00:00.123Z``: a ``Millis`` for people, sortable as text."""
    seconds, millis = divmod(ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=64)
def _iso_second(seconds: int) -> str:
    # Every published event carries the time it was received: within a second, the same text.
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")[: -len("+00:00")]
