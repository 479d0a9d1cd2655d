"""The HTTP side of a consumer process: the probes, and whatever read routes it brings."""

from collections.abc import Sequence

from aiohttp import web
from pydantic import SecretStr

from taskhook.consumers.runner import ConsumerRunner
from taskhook.http.access import require_token
from taskhook.http.middleware import answer_with_problems
from taskhook.http.probes import Probes, Readiness, add_probes
from taskhook.metrics import ConsumerMetrics


def create_consumer_app(
    runner: ConsumerRunner,
    metrics: ConsumerMetrics,
    routes: Sequence[web.AbstractRouteDef],
    token: SecretStr | None = None,
) -> web.Application:
    """The probes (ready only while the queue is being consumed), plus the consumer's ``routes``,
    which answer off this machine only to a request with ``token`` (``http.access``)."""
    app = web.Application(middlewares=[answer_with_problems, require_token(token)])
    add_probes(
        app,
        Probes(
            metrics.registry,
            lambda: Readiness(runner.ready, {"broker": "ok" if runner.ready else "down"}),
            not_ready="not consuming now",
        ),
    )
    app.router.add_routes(routes)
    return app
