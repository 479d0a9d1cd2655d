"""Answers every request of a consumer's app through the one error mapping, and traces requests.

The ingest's webhook maps its errors and records its outcome in its own handler
(``taskhook.http.webhook``): a middleware costs every request two more coroutine layers, and
the webhook is the request taskhook serves thousands of times a second.
"""

import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from taskhook import tracing
from taskhook.http.problems import answer_for_error
from taskhook.logs import log_with_fields
from taskhook.metrics import Metrics

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("taskhook.webhook")

# 499 (nginx's convention): the client went away before its request was whole; nothing to answer.
CLIENT_CLOSED_REQUEST = 499
OUTCOME_BY_STATUS = {202: "accepted", 200: "duplicate", CLIENT_CLOSED_REQUEST: "abandoned"}
# The name of the route that answers every path no other route takes (404 or 405).
NO_ROUTE = "no-route"


@web.middleware
async def answer_with_problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error to its problem answer."""
    try:
        return await handler(request)
    except Exception as error:
        return answer_for_error(error)[0]


def count_answer(metrics: Metrics, status: int, cause: str) -> str:
    """Count one answer by outcome and cause; returns the outcome."""
    outcome = OUTCOME_BY_STATUS.get(status) or ("refused" if status < 500 else "failed")
    metrics.answered(outcome, cause)
    return outcome


def record_outcome(
    metrics: Metrics, status: int, cause: str, context: dict[str, str], started: float
) -> None:
    """One log line and one counter increment per webhook delivery answered; ``started`` is
    the ``time.perf_counter()`` of its arrival."""
    outcome = count_answer(metrics, status, cause)
    fields = {
        **context,
        "status": status,
        "outcome": outcome,
        "cause": cause,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    level = logging.WARNING if status >= 500 else logging.INFO
    log_with_fields(log, level, "webhook answered", fields)


def traced_requests(active: "Tracer") -> Any:
    """A middleware that puts each request in a server span (only added when tracing is on)."""

    @web.middleware
    async def trace_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        attributes = {
            "http.request.method": request.method,
            "url.path": request.path,
            "url.scheme": request.scheme,
        }
        name = request.method  # an unmatched path would make names without bound
        if route.resource is not None and route.name != NO_ROUTE:
            attributes["http.route"] = route.resource.canonical
            name = f"{request.method} {route.resource.canonical}"
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
