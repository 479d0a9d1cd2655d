"""Requests refused by aiohttp's HTTP parser get a problem answer too, like every other answer.

aiohttp answers what its parser refuses (a header line over 8190 bytes, a malformed request line)
by itself, in text/plain, before any middleware runs. ``RequestHandler.handle_error`` builds that
answer, and aiohttp offers no public way to choose the handler class, so ``ProblemAppRunner``
swaps it in where the runner builds its server. This module is the one place taskhook relies on
aiohttp below its public API (``AppRunner._make_server``, ``Server._loop`` and ``_kwargs``);
``tests/integration/test_raw_connections.py`` fails if an aiohttp upgrade changes any of it.
"""

from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from taskhook.http.problems import problem_for_unparsed_request


class ProblemAppRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer unparsable requests with problems.

    ``on_refused(status, cause)`` is called for each such answer, to count it.
    """

    def __init__(
        self, app: web.Application, *, on_refused: Callable[[int, str], object], **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._on_refused = on_refused

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer
        cast(_ProblemServer, server).on_refused = self._on_refused
        return server


class _ProblemServer(web.Server):
    on_refused: Callable[[int, str], object]

    def __call__(self) -> web.RequestHandler:
        handler = _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.on_refused = self.on_refused
        return handler


class _ProblemRequestHandler(web.RequestHandler):
    on_refused: Callable[[int, str], object]

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own: it logs the error, and raises if an answer has already begun.
        super().handle_error(request, status, exc, message)
        cause, response = problem_for_unparsed_request(status)
        self.on_refused(response.status, cause)
        response.force_close()  # what is left on the connection cannot be trusted
        return response
