"""Every answer passes here: errors become problem+json, and each webhook outcome is recorded."""

import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from taskhook import tracing
from taskhook.core.errors import DeliveryRefused
from taskhook.http.problems import HTTP_CAUSES, problem, problem_for_http_error, problem_for_refusal
from taskhook.http.state import METRICS, TRACE
from taskhook.metrics import Metrics

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("taskhook.webhook")

WEBHOOK_ROUTE = "webhook"
# 499 (nginx's convention): the client went away before its request was whole; nothing to answer.
CLIENT_CLOSED_REQUEST = 499
OUTCOME_BY_STATUS = {202: "accepted", 200: "duplicate", CLIENT_CLOSED_REQUEST: "abandoned"}


@web.middleware
async def answer_with_problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error to its problem answer, then log and count the webhook outcome."""
    started = time.perf_counter()
    response, cause, context = await _answer(request, handler)
    if request.match_info.route.name == WEBHOOK_ROUTE:
        record_outcome(request, response.status, cause, context, time.perf_counter() - started)
    return response


async def _answer(
    request: web.Request, handler: Handler
) -> tuple[web.StreamResponse, str, dict[str, str]]:
    """The answer, its cause, and what is known of the delivery, whatever went wrong."""
    try:
        response = await handler(request)
        return response, "ok", request.get(TRACE, {})
    except DeliveryRefused as refusal:
        return problem_for_refusal(refusal), refusal.cause, dict(refusal.context)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = problem_for_http_error(error)
        return response, HTTP_CAUSES.get(error.status, "http-error"), {}
    except ConnectionResetError:
        # The sender hung up mid-body: its problem, not a bug of ours, and no one hears the answer.
        response = problem("client-disconnected", "the connection closed before the body ended")
        return response, "client-disconnected", {}
    except Exception as error:
        # The traceback goes to the log (not to the sender) only when debugging is switched on.
        log.error(
            "unhandled error",
            extra={"error": type(error).__name__},
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return problem("internal-error", "the request failed unexpectedly"), "internal-error", {}


def count_answer(metrics: Metrics, status: int, cause: str) -> str:
    """Count one answer by outcome and cause; returns the outcome."""
    outcome = OUTCOME_BY_STATUS.get(status) or ("refused" if status < 500 else "failed")
    metrics.answered(outcome, cause)
    return outcome


def record_outcome(
    request: web.Request, status: int, cause: str, context: dict[str, str], seconds: float
) -> None:
    """One log line and one counter increment per webhook delivery answered."""
    outcome = count_answer(request.app[METRICS], status, cause)
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(
        level,
        "webhook answered",
        extra={
            **context,
            "status": status,
            "outcome": outcome,
            "cause": cause,
            "latency_ms": round(seconds * 1000, 2),
        },
    )


def traced_requests(active: "Tracer") -> Any:
    """A middleware that puts each request in a server span (only added when tracing is on)."""

    @web.middleware
    async def trace_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        attributes = {
            "http.request.method": request.method,
            "url.path": request.path,
            "url.scheme": request.scheme,
        }
        name = request.method  # an unmatched path would make names without bound
        if route is not None:
            attributes["http.route"] = route.canonical
            name = f"{request.method} {route.canonical}"
        # A new trace, linked to the sender's if it sent one: the request is not yet proven to
        # be Livepeer's, so its trace context must not decide sampling or ride into messages.
        with tracing.span(
            active,
            name,
            kind="SERVER",
            attributes=attributes,
            context=tracing.new_trace(),
            links=[tracing.extract(request.headers)],
        ) as current:
            response = await handler(request)
            tracing.set_attributes(current, {"http.response.status_code": response.status})
            if response.status >= 500 and current is not None:
                from opentelemetry.trace import Status, StatusCode

                current.set_status(Status(StatusCode.ERROR))
            return response

    return trace_request
