"""The aiohttp application factory: routes, typed state, and the publisher's lifetime."""

from collections.abc import AsyncIterator

from aiohttp import web

from taskhook import tracing
from taskhook.application.ingest import Ingest, Publisher
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.http.middleware import NO_ROUTE, traced_requests
from taskhook.http.probes import Probes, Readiness, add_probes
from taskhook.http.problems import problem_for_http_error
from taskhook.http.state import INGEST, LIFECYCLE, METRICS, PUBLISHER, Lifecycle
from taskhook.http.webhook import WebhookEndpoint
from taskhook.metrics import Metrics
from taskhook.settings import Settings


def create_app(settings: Settings, ingest: Ingest, metrics: Metrics) -> web.Application:
    """The app around ``ingest``, whose publisher the app starts and closes."""
    publisher = ingest.publisher
    # No middleware unless tracing is on: aiohttp then runs none at all (not even its own
    # current-app one). The webhook answers its errors itself; what no route takes is answered
    # by the last route; a probe that fails is answered by the server's own problem handler.
    active = tracing.tracer()
    middlewares = [] if active is None else [traced_requests(active)]
    # The body is read under our own limit; aiohttp's limit is a second fence.
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    lifecycle = Lifecycle()
    app[PUBLISHER] = publisher
    app[METRICS] = metrics
    app[LIFECYCLE] = lifecycle
    app[INGEST] = ingest
    webhook = WebhookEndpoint(
        ingest,
        metrics,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
    app.router.add_post(WEBHOOK_PATH, webhook.receive)
    add_probes(
        app,
        Probes(
            metrics.registry,
            lambda: _readiness(publisher, lifecycle),
            not_ready="not taking deliveries now",
        ),
    )
    app.router.add_route("*", "/{path:.*}", no_route, name=NO_ROUTE)  # after every other route
    app.cleanup_ctx.append(_publisher_lifetime)
    return app


async def no_route(request: web.Request) -> web.Response:
    """404 for a path no route serves, 405 (with ``Allow``) for one served for other methods:
    aiohttp's own answers, as problems."""
    allowed = {
        route.method
        for resource in request.app.router.resources()
        if resource.canonical == request.path
        for route in resource
    }
    if allowed:
        return problem_for_http_error(web.HTTPMethodNotAllowed(request.method, allowed))
    return problem_for_http_error(web.HTTPNotFound())


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
