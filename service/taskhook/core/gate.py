"""Livepeer's playback access-control gate, which is not a webhook delivery at all
(docs/livepeer-webhooks.md section 9).

When a stream or asset has a ``webhook`` playback policy, Studio POSTs
``{"context", "accessKey", "timestamp", ...}`` to that webhook's URL for each viewer, signed like
a delivery but with no ``id`` and no ``event``, and lets the viewer watch only on a 2xx. taskhook
cannot decide who may watch, so such a request is recognised by its shape before any model runs,
never queued, and answered with its own refusal. ``GateWarnings`` keeps the warning it deserves
to one line a minute per webhook, however many viewers there are.
"""

from taskhook.core.errors import AccessControlRequest

# A gate request's keys that no delivery has; a delivery always has "event".
GATE_KEY = "accessKey"
WARN_EVERY_MS = 60_000


def is_gate_request(document: object) -> bool:
    """True for the body of an access-control gate request: an object with ``accessKey`` and
    no ``event``. Two dict lookups, and only for a document that has no ``event``."""
    return type(document) is dict and "event" not in document and GATE_KEY in document


def gate_refusal() -> AccessControlRequest:
    """The refusal a gate request gets: it says what is wrong and what to do."""
    return AccessControlRequest(
        "this URL receives Livepeer webhook events; it cannot decide playback access, so every "
        "viewer is refused: point the playback policy's webhookId at an access-control "
        "service, not at taskhook"
    )


class GateWarnings:
    """Says when a warning is due: at most once per ``every_ms`` for each webhook key.

    The key names the webhook (taskhook knows it by the secret that signed the request); time is
    an argument, so this holds no clock.
    """

    def __init__(self, every_ms: int = WARN_EVERY_MS) -> None:
        self._every_ms = every_ms
        self._last: dict[str, int] = {}
        self._held: dict[str, int] = {}

    def due(self, key: str, now_ms: int) -> int | None:
        """The number of requests since the last warning for ``key`` (this one included) if a
        warning is due now, else None (the request is counted toward the next)."""
        self._held[key] = self._held.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now_ms - last < self._every_ms:
            return None
        self._last[key] = now_ms
        return self._held.pop(key)
