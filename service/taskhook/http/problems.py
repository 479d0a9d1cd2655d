"""The one place that turns an error into an HTTP answer: RFC 9457 ``application/problem+json``.

Every cause has a stable problem ``type`` URI. The status decides what Livepeer does next: any 5xx
is retried for about a day, any 4xx is never retried, so a 4xx is only for a delivery that could
never succeed.
"""

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from taskhook.core.errors import DeliveryInvalid, DeliveryRefused

log = logging.getLogger("taskhook.webhook")

PROBLEM_TYPE_PREFIX = "urn:taskhook:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Livepeer ignores Retry-After and backs off on its own; other senders and people read it.
RETRY_AFTER_S = 5


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int
    title: str


PROBLEMS: dict[str, ProblemKind] = {
    "body-too-large": ProblemKind(413, "Request body too large"),
    "body-timeout": ProblemKind(408, "Request body not received in time"),
    "unsupported-media-type": ProblemKind(415, "Body must be JSON"),
    "signature-missing": ProblemKind(401, "Signature missing"),
    "signature-malformed": ProblemKind(401, "Signature malformed"),
    "signature-mismatch": ProblemKind(401, "Signature does not match"),
    "signature-expired": ProblemKind(401, "Signature expired"),
    "timestamp-mismatch": ProblemKind(401, "Signed timestamp does not match the body"),
    "invalid-json": ProblemKind(400, "Body is not JSON"),
    "malformed-http": ProblemKind(400, "Not a valid HTTP request"),
    "invalid-delivery": ProblemKind(422, "Delivery does not match the Livepeer model"),
    # Not a delivery: Studio's playback gate, sent here by mistake. Any non-2xx denies the viewer
    # (taskhook cannot decide access, and a 2xx would let every viewer in); 421 says "this is
    # not the server for that request" and is neither retried nor counted as our failure.
    "access-control-request": ProblemKind(421, "Not a playback access-control service"),
    "broker-unavailable": ProblemKind(503, "Message broker unavailable"),
    "broker-blocked": ProblemKind(503, "Message broker is refusing publishes"),
    "publish-timeout": ProblemKind(503, "Message broker did not confirm in time"),
    "publish-nacked": ProblemKind(503, "Message broker refused the message"),
    "publish-unroutable": ProblemKind(503, "Message broker could not route the message"),
    "publish-interrupted": ProblemKind(503, "Publish of this event was interrupted"),
    "overloaded": ProblemKind(503, "Too many deliveries in progress"),
    "not-ready": ProblemKind(503, "Not ready"),
    "not-found": ProblemKind(404, "Not found"),
    "token-required": ProblemKind(401, "A valid token is required"),
    "csrf-failed": ProblemKind(403, "The form's token is missing or does not match"),
    "invalid-query": ProblemKind(400, "Query parameters are not valid"),
    "method-not-allowed": ProblemKind(405, "Method not allowed"),
    "internal-error": ProblemKind(500, "Internal error"),
    # Never heard by anyone: for the log line and the counter of a sender that hung up mid-body.
    "client-disconnected": ProblemKind(499, "Client closed the request"),
}
HTTP_CAUSES = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}


def answer_for_error(error: Exception) -> tuple[web.Response, str, dict[str, str]]:
    """The problem answer for an error a handler raised, its cause, and what is known of the
    delivery. Raises ``error`` again if it is an ``HTTPException`` below 400 (not an error)."""
    if isinstance(error, DeliveryRefused):
        return problem_for_refusal(error), error.cause, dict(error.context)
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        return problem_for_http_error(error), HTTP_CAUSES.get(error.status, "http-error"), {}
    if isinstance(error, ConnectionResetError):
        # The sender hung up mid-body: its problem, not a bug of ours, and no one hears the answer.
        response = problem("client-disconnected", "the connection closed before the body ended")
        return response, "client-disconnected", {}
    # The traceback goes to the log (not to the sender) only when debugging is switched on.
    log.error(
        "unhandled error",
        extra={"error": type(error).__name__},
        exc_info=error if log.isEnabledFor(logging.DEBUG) else None,
    )
    return problem("internal-error", "the request failed unexpectedly"), "internal-error", {}


def problem_for_refusal(refusal: DeliveryRefused) -> web.Response:
    """The answer for a delivery we refused."""
    extra: dict[str, Any] = {}
    if isinstance(refusal, DeliveryInvalid):
        extra["errors"] = [{"pointer": p.pointer, "detail": p.detail} for p in refusal.problems]
        extra["kept"] = True  # the raw delivery is in the rejected queue
    return problem(refusal.cause, refusal.detail, **extra)


def problem_for_http_error(error: web.HTTPException) -> web.Response:
    """The answer for an error aiohttp raised itself (unknown path, wrong method, ...)."""
    cause = HTTP_CAUSES.get(error.status)
    if cause is None:  # not one we expect: keep aiohttp's status and reason
        return problem("http-error", error.reason, kind=ProblemKind(error.status, error.reason))
    response = problem(cause, error.reason)
    if error.status == 405:
        response.headers["Allow"] = error.headers.get("Allow", "")
    return response


def problem_for_unparsed_request(status: int) -> tuple[str, web.Response]:
    """The cause and answer for a request refused before any handler could run: aiohttp's HTTP
    parser rejected it (400: a header line over its limit, a malformed request line, ...), or
    something failed outside the middleware (anything else: an internal error)."""
    if status == 400:  # the parser's one status
        return "malformed-http", problem("malformed-http", "the request is not valid HTTP/1.1")
    return "internal-error", problem("internal-error", "the request failed unexpectedly")


def problem(
    cause: str, detail: str, *, kind: ProblemKind | None = None, **extra: Any
) -> web.Response:
    """A problem+json answer for ``cause`` (``kind`` defaults to its entry in ``PROBLEMS``).

    503s carry ``Retry-After``.
    """
    kind = kind or PROBLEMS[cause]
    body = {
        "type": PROBLEM_TYPE_PREFIX + cause,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        **extra,
    }
    response = web.Response(
        body=orjson.dumps(body), status=kind.status, content_type=PROBLEM_CONTENT_TYPE
    )
    if kind.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
