"""Times as the console's forms take them: ``2026-12-05T09:00`` (a browser's datetime-local), in
UTC as every page shows times."""

from datetime import UTC, datetime


def utc_minute_ms(text: str, field: str) -> int | None:
    """``text`` in Unix ms (None when empty); ``ValueError`` naming ``field`` when unreadable.
    A time with an offset is taken as it says."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a time like 2026-12-05T09:00") from None
    return int(when.replace(tzinfo=when.tzinfo or UTC).timestamp() * 1000)
