"""The aiohttp application factory: routes, typed state, and the publisher's lifetime."""

from collections.abc import AsyncIterator

from aiohttp import web

from taskhook import tracing
from taskhook.application.ingest import Ingest, Publisher
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.http.middleware import WEBHOOK_ROUTE, answer_with_problems, traced_requests
from taskhook.http.probes import Probes, Readiness, add_probes
from taskhook.http.state import (
    BODY_TIMEOUT_S,
    INGEST,
    LIFECYCLE,
    MAX_BODY_BYTES,
    METRICS,
    PUBLISHER,
    Lifecycle,
)
from taskhook.http.webhook import receive_webhook
from taskhook.metrics import Metrics
from taskhook.settings import Settings


def create_app(settings: Settings, ingest: Ingest, metrics: Metrics) -> web.Application:
    """The app around ``ingest``, whose publisher the app starts and closes."""
    publisher = ingest.publisher
    # The body is read in chunks under our own limit; aiohttp's limit is a second fence.
    active = tracing.tracer()
    middlewares = (
        [answer_with_problems]
        if active is None
        else [
            traced_requests(active),  # outermost: the span sees the problem answers too
            answer_with_problems,
        ]
    )
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    lifecycle = Lifecycle()
    app[PUBLISHER] = publisher
    app[METRICS] = metrics
    app[LIFECYCLE] = lifecycle
    app[MAX_BODY_BYTES] = settings.max_body_bytes
    app[BODY_TIMEOUT_S] = settings.body_timeout_s
    app[INGEST] = ingest
    app.router.add_post(WEBHOOK_PATH, receive_webhook, name=WEBHOOK_ROUTE)
    add_probes(
        app,
        Probes(
            metrics.registry,
            lambda: _readiness(publisher, lifecycle),
            not_ready="not taking deliveries now",
        ),
    )
    app.cleanup_ctx.append(_publisher_lifetime)
    return app


def _readiness(publisher: Publisher, lifecycle: Lifecycle) -> Readiness:
    """Ready while the broker channel is open and the server is not draining."""
    checks = {
        "broker": "blocked" if publisher.blocked else "ok" if publisher.ready else "down",
        "draining": "yes" if lifecycle.draining else "no",
    }
    return Readiness(publisher.ready and not lifecycle.draining, checks)


async def _publisher_lifetime(app: web.Application) -> AsyncIterator[None]:
    publisher = app[PUBLISHER]
    await publisher.start()
    yield
    # The server has stopped its handlers by now, and with them every publish they started.
    await publisher.close()
