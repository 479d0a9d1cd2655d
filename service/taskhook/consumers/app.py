"""The HTTP side of a consumer process: probes, metrics, and whatever read routes it brings.

Liveness is the ingest's own ``healthz``: in both processes it means only "serving HTTP".
"""

from collections.abc import Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from taskhook.consumers.runner import ConsumerRunner
from taskhook.http.health import healthz as healthz  # re-exported: this app serves it too
from taskhook.http.middleware import answer_with_problems
from taskhook.http.problems import problem
from taskhook.metrics import ConsumerMetrics

RUNNER = web.AppKey("runner", ConsumerRunner)
CONSUMER_METRICS = web.AppKey("consumer_metrics", ConsumerMetrics)


def create_consumer_app(
    runner: ConsumerRunner, metrics: ConsumerMetrics, routes: Sequence[web.AbstractRouteDef]
) -> web.Application:
    """``/healthz``, ``/readyz`` and ``/metrics``, plus the consumer's own ``routes``."""
    app = web.Application(middlewares=[answer_with_problems])
    app[RUNNER] = runner
    app[CONSUMER_METRICS] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_routes(routes)
    return app


async def readyz(request: web.Request) -> web.Response:
    """200 only while the consumer's queue is being consumed."""
    if request.app[RUNNER].ready:
        return web.json_response({"status": "ready", "broker": "ok"})
    return problem("not-ready", "not consuming now", broker="down")


async def metrics_page(request: web.Request) -> web.Response:
    body = generate_latest(request.app[CONSUMER_METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
