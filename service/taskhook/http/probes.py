"""What every taskhook process serves beside its work: ``/healthz``, ``/readyz``, ``/metrics``.

The ingest and each consumer process differ only in what "ready" means, which they say with a
``Probes`` of their own; the handlers are these, once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from taskhook.http.problems import problem


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the process can do its work now, and the checks that decided it."""

    ready: bool
    checks: dict[str, str]


@dataclass(frozen=True, slots=True)
class Probes:
    """The process's metrics, how to tell whether it is ready, and what to say when it is not."""

    registry: CollectorRegistry
    readiness: Callable[[], Readiness]
    not_ready: str


PROBES = web.AppKey("probes", Probes)


def add_probes(app: web.Application, probes: Probes) -> None:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` from ``app``."""
    app[PROBES] = probes
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process serves HTTP at all; restarting it would not help anything else."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 while the process can do its work; a problem (503) naming the failing checks else."""
    probes = request.app[PROBES]
    readiness = probes.readiness()
    if readiness.ready:
        return web.json_response({"status": "ready", **readiness.checks})
    checks: dict[str, Any] = readiness.checks
    return problem("not-ready", probes.not_ready, **checks)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[PROBES].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
