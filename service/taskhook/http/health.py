"""Probes and metrics: ``/healthz`` (alive), ``/readyz`` (can take deliveries), ``/metrics``."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from taskhook.http.problems import problem
from taskhook.http.state import LIFECYCLE, METRICS, PUBLISHER


async def healthz(request: web.Request) -> web.Response:
    """200 while the process serves HTTP at all; restarting it would not help anything else."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 only while the broker channel is open and the server is not draining."""
    app = request.app
    checks = {
        "broker": "ok" if app[PUBLISHER].ready else "down",
        "draining": "yes" if app[LIFECYCLE].draining else "no",
    }
    if checks == {"broker": "ok", "draining": "no"}:
        return web.json_response({"status": "ready", **checks})
    return problem(
        "not-ready",
        "not taking deliveries now",
        broker=checks["broker"],
        draining=checks["draining"],
    )


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
