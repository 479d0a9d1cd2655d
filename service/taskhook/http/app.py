"""The aiohttp application factory: routes, typed state, and the publisher's lifetime."""

from collections.abc import AsyncIterator

from aiohttp import web

from taskhook.broker.topology import Topology
from taskhook.dedup import PublishOnce
from taskhook.http import health
from taskhook.http.middleware import WEBHOOK_ROUTE, answer_with_problems
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
from taskhook.ingest import Ingest, Publisher
from taskhook.metrics import Metrics
from taskhook.settings import Settings

WEBHOOK_PATH = "/webhooks/livepeer"


def create_app(settings: Settings, publisher: Publisher, metrics: Metrics) -> web.Application:
    """Build the app around a publisher that is not started yet; the app starts and closes it."""
    # The body is read in chunks under our own limit; aiohttp's limit is a second fence.
    app = web.Application(
        middlewares=[answer_with_problems], client_max_size=settings.max_body_bytes
    )
    app[PUBLISHER] = publisher
    app[METRICS] = metrics
    app[LIFECYCLE] = Lifecycle()
    app[MAX_BODY_BYTES] = settings.max_body_bytes
    app[BODY_TIMEOUT_S] = settings.body_timeout_s
    app[INGEST] = Ingest(
        publisher,
        secrets=settings.secret_keys,
        tolerance_ms=int(settings.signature_tolerance_s * 1000),
        rejected_queue=Topology(settings.exchange).rejected_queue,
        publish_once=PublishOnce(settings.dedup_capacity),
    )
    app.router.add_post(WEBHOOK_PATH, receive_webhook, name=WEBHOOK_ROUTE)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.cleanup_ctx.append(_publisher_lifetime)
    return app


async def _publisher_lifetime(app: web.Application) -> AsyncIterator[None]:
    publisher = app[PUBLISHER]
    await publisher.start()
    yield
    # Handlers are done by now; publishes they started but stopped waiting for are not.
    await app[INGEST].wait_idle()
    await publisher.close()
