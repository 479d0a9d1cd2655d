"""Typed keys for what the app and each request carry (aiohttp's ``AppKey``: no singletons)."""

from dataclasses import dataclass

from aiohttp import web

from taskhook.application.ingest import Ingest, Publisher
from taskhook.metrics import Metrics


@dataclass
class Lifecycle:
    """Set by the server when SIGTERM arrives: readiness turns false while requests drain."""

    draining: bool = False


INGEST = web.AppKey("ingest", Ingest)
PUBLISHER = web.AppKey("publisher", Publisher)
METRICS = web.AppKey("metrics", Metrics)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
