"""The console's process: serve the app until SIGTERM or SIGINT."""

import asyncio
import logging

from aiohttp import web

from taskhook.http.server import start_site, stop_on_signals
from taskhook.settings import ConsoleSettings

log = logging.getLogger("taskhook")
# Live views hold a request open for as long as the page is open: a stop does not wait for them.
SHUTDOWN_GRACE_S = 2.0


async def serve_console(app: web.Application, settings: ConsoleSettings) -> None:
    """Listen on the console's host and port until a signal, then close pages and the store."""
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S
    )
    await runner.setup()
    try:
        host, port = settings.console_host, settings.console_port
        await start_site(web.TCPSite(runner, host, port), host, port)
        log.info("console listening", extra={"url": f"http://{host}:{port}/"})
        with stop_on_signals(stop := asyncio.Event()):
            await stop.wait()
    finally:
        await runner.cleanup()
