"""One server of ``tests.bench.stages`` with a part taken away: ``python -m
tests.bench.stages_serve taskhook|peer shipped|no-amqp|no-log|no-protocol`` (port from
``TASKHOOK_PORT``; ``no-protocol`` is no-amqp on aiohttp's own runner, without taskhook's
protocol subclass)."""

import sys
from collections.abc import AsyncIterator
from typing import Any

import uvloop
from aiohttp import web

from taskhook import bootstrap
from taskhook.core.message import OutgoingMessage
from taskhook.settings import Settings


class ConfirmedAtOnce:
    """A publisher with no broker behind it: every publish is confirmed as soon as asked."""

    ready = True
    blocked = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish_event(self, message: OutgoingMessage) -> None:
        pass

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        pass


def serve_taskhook(variant: str) -> None:
    from taskhook.http import server
    from taskhook.http.server import serve_until_stopped
    from taskhook.logs import configure_logging

    if variant == "no-protocol":  # aiohttp's own runner: parser refusals answered in text

        def plain_runner(app: web.Application, *, on_refused: object, **kwargs: Any) -> Any:
            return web.AppRunner(app, **kwargs)

        setattr(server, "ProblemAppRunner", plain_runner)  # noqa: B010  # a bench-only swap
    settings = bootstrap.load_settings(Settings)
    configure_logging("WARNING" if variant == "no-log" else settings.log_level)
    publisher = None if variant == "shipped" else ConfirmedAtOnce()
    app = bootstrap.ingest_app(settings, publisher=publisher)
    uvloop.run(
        serve_until_stopped(
            app,
            host=settings.host,
            port=settings.port,
            drain_delay_s=0,
            grace_s=1,
            keepalive_timeout_s=settings.keepalive_timeout_s,
        )
    )


class NoExchange:
    async def publish(self, message: Any, routing_key: str) -> None:
        pass


def serve_peer(variant: str) -> None:
    import os

    from tests.bench import plain_handler

    if variant == "shipped":
        sys.argv[1:] = ["--port", os.environ["TASKHOOK_PORT"]]
        plain_handler.main()
        return

    async def no_broker(app: web.Application) -> AsyncIterator[None]:
        app[plain_handler.EXCHANGE] = NoExchange()  # type: ignore[misc]
        yield

    app = web.Application()
    app[plain_handler.SECRET] = os.environ["TASKHOOK_WEBHOOK_SECRETS"].encode()
    app.router.add_post("/webhooks/livepeer", plain_handler.webhook)
    app.router.add_get("/readyz", plain_handler.readyz)
    app.cleanup_ctx.append(no_broker)
    uvloop.install()
    port = int(os.environ["TASKHOOK_PORT"])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    server, variant = sys.argv[1], sys.argv[2]
    (serve_taskhook if server == "taskhook" else serve_peer)(variant)
