"""Why a delivery was not accepted, as exceptions with a stable ``cause``.

Each cause is a slug that never changes once published: it names the problem ``type`` in HTTP
answers, the ``cause`` label in metrics and the ``cause`` field in logs. The HTTP status for each
cause is decided in exactly one place, ``taskhook.http.problems``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

SignatureCause = Literal[
    "signature-missing",
    "signature-malformed",
    "signature-mismatch",
    "signature-expired",
    "timestamp-mismatch",
]
PublishCause = Literal[
    "broker-unavailable",
    "broker-blocked",
    "publish-timeout",
    "publish-nacked",
    "publish-unroutable",
    "publish-interrupted",
    "overloaded",
]


class DeliveryRefused(Exception):
    """Base of every reason to refuse a delivery; ``detail`` is safe to show the sender."""

    cause: str = "refused"

    def __init__(self, detail: str, *, context: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # What we learned about the delivery before refusing it (event id, ...), for the log line.
        self.context: Mapping[str, str] = context or {}


class BodyTooLarge(DeliveryRefused):
    cause = "body-too-large"


class BodyTimeout(DeliveryRefused):
    """The body did not arrive in time; the sender gave up before we did."""

    cause = "body-timeout"


class UnsupportedMediaType(DeliveryRefused):
    cause = "unsupported-media-type"


class SignatureInvalid(DeliveryRefused):
    """The delivery is not provably from Livepeer: missing, malformed, wrong or stale signature."""

    def __init__(self, cause: SignatureCause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause


class BodyNotJson(DeliveryRefused):
    cause = "invalid-json"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One failing field: an RFC 6901 JSON pointer into the delivery, and why it failed."""

    pointer: str
    detail: str


class DeliveryInvalid(DeliveryRefused):
    """Signed and JSON, but not a delivery the Livepeer model allows."""

    cause = "invalid-delivery"

    def __init__(
        self,
        problems: tuple[FieldProblem, ...],
        *,
        context: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{len(problems)} field(s) failed validation", context=context)
        self.problems = problems


class AccessControlRequest(DeliveryRefused):
    """A playback access-control gate request, which taskhook cannot answer; never kept."""

    cause = "access-control-request"


class PublishFailed(DeliveryRefused):
    """The broker did not confirm the message; the sender must try again later."""

    def __init__(self, cause: PublishCause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
