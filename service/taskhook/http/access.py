"""Who may read the HTTP sides that show events: the tasks read API and the console.

The rule, the same for both: they listen on the loopback interface by default, and listening
anywhere else needs a token (the settings refuse to start otherwise:
``taskhook.exposure``). A request from off this machine must then present the token, as
``Authorization: Bearer <token>`` or, for a browser, in the ``taskhook-token`` cookie; a request
from the loopback interface (a person on the machine, ``kubectl port-forward``) needs none.
The probes and ``/metrics`` stay open: they carry no event data, and kubelet and Prometheus
reach them from off the pod.
"""

import hmac
from collections.abc import Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

from taskhook.exposure import is_loopback
from taskhook.http.problems import problem

TOKEN_COOKIE = "taskhook-token"  # noqa: S105  # the cookie's name, not a secret
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_BEARER = "Bearer "


def presented_token(request: web.Request) -> str | None:
    """The token a request carries: the bearer header first, else the browser's cookie."""
    header = request.headers.get("Authorization", "")
    if header.startswith(_BEARER):
        return header[len(_BEARER) :].strip()
    return request.cookies.get(TOKEN_COOKIE)


def token_matches(presented: str | None, token: SecretStr) -> bool:
    """Constant-time comparison, so the answer's timing says nothing about the token."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), token.get_secret_value().encode())


def require_token(token: SecretStr | None, open_paths: Collection[str] = OPEN_PATHS) -> Middleware:
    """A middleware that refuses (401) a request from off this machine without ``token``.

    With no token configured, the settings only allow a loopback listener, and a request from
    elsewhere (one that reached it through a proxy on this machine would look local, which is the
    operator's choice) is refused outright: nobody can present a token that does not exist.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in open_paths or is_loopback(request.remote):
            return await handler(request)
        if token is None:
            return _refused("this endpoint answers only on this machine (no token is configured)")
        if not token_matches(presented_token(request), token):
            return _refused("send the token as 'Authorization: Bearer <token>'")
        return await handler(request)

    return guard


def _refused(detail: str) -> web.Response:
    response = problem("token-required", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="taskhook"'
    return response
