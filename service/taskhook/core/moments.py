"""Points in time as people write them on a command line: ``2h`` ago, or an ISO 8601 moment.

Pure: the present is an argument, so tests need no clock.
"""

import re
from datetime import UTC, datetime

AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
EXAMPLES = "like 2h, 30m, 7d (ago) or 2026-12-05T10:00:00Z"


def parse_moment(text: str, *, now_ms: int) -> int:
    """``text`` as Unix ms: a span before ``now_ms`` (``90s``, ``30m``, ``2h``, ``7d``, ``1w``) or
    an ISO 8601 moment (UTC when it names no offset). ``ValueError`` says what is accepted."""
    cleaned = text.strip()
    if match := AGO.match(cleaned.lower()):
        amount, unit = match.groups()
        return now_ms - round(float(amount) * UNIT_MS[unit])
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time {EXAMPLES}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)
