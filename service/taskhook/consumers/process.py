"""One consumer process: open the consumer, serve its HTTP side, consume until SIGTERM."""

import asyncio
import logging
from typing import Any

from aiohttp import web

from taskhook.broker.topology import ConsumerTopology
from taskhook.consumers.app import create_consumer_app
from taskhook.consumers.consumer import Consumer
from taskhook.consumers.runner import ConsumerRunner
from taskhook.http.server import start_site, stop_on_signals
from taskhook.metrics import ConsumerMetrics
from taskhook.settings import ConsumerSettings

log = logging.getLogger(__name__)


async def run_consumer(
    consumer: Consumer[Any],
    settings: ConsumerSettings,
    topology: ConsumerTopology,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``consumer`` until SIGTERM or SIGINT (or until ``stop`` is set, for tests).

    On stop it takes no new message, lets the ones in hand finish (up to the shutdown grace),
    then closes the broker connection, the HTTP side and whatever the consumer opened.
    """
    metrics = ConsumerMetrics.create()
    async with consumer.open(settings) as running:
        runner = ConsumerRunner(consumer, running, topology, settings, metrics)
        app = create_consumer_app(runner, metrics, running.routes, settings.consumer_token)
        http = web.AppRunner(app, handle_signals=False, access_log=None)
        await http.setup()
        try:
            host, port = settings.consumer_host, settings.consumer_port
            await start_site(web.TCPSite(http, host, port), host, port)
            log.info(
                "consumer listening",
                extra={"consumer": consumer.name, "port": settings.consumer_port},
            )
            if stop is not None:  # stopped by the caller
                await runner.run(stop)
                return
            with stop_on_signals(stop := asyncio.Event()):
                await runner.run(stop)
        finally:
            await http.cleanup()
