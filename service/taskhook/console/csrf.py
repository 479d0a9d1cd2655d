"""Cross-site request forgery: every action is a POST carrying a token only our pages know.

A signed double-submit token (OWASP's recommended form of the pattern): a random nonce lives in
an HttpOnly, SameSite=Strict cookie, and each form carries the nonce signed with a key of this
process (itsdangerous). A POST is refused unless the signature checks and the signed nonce is
the cookie's: another site can make a browser send the cookie, but cannot read it nor sign it.
The key is made at start-up, so a form from before a restart is refused and must be reloaded.
"""

import hmac
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from itsdangerous import BadSignature, Signer

from taskhook.http.problems import problem

CSRF_COOKIE = "taskhook-csrf"
CSRF_FIELD = "csrf"
CSRF_TOKEN = web.RequestKey("csrf_token", str)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NONCE_BYTES = 32


def csrf_protection(key: bytes, *, secure_cookie: bool = False) -> Middleware:
    """A middleware that hands each page a token (``request[CSRF_TOKEN]``) and refuses (403) a
    POST without the one that goes with its cookie."""
    signer = Signer(key, salt="taskhook-console-csrf")

    @web.middleware
    async def protect(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonce = request.cookies.get(CSRF_COOKIE)
        fresh = nonce is None
        if nonce is None:
            nonce = secrets.token_urlsafe(NONCE_BYTES)
        request[CSRF_TOKEN] = signer.sign(nonce).decode()
        if request.method not in SAFE_METHODS:
            sent = (await request.post()).get(CSRF_FIELD)
            if fresh or not isinstance(sent, str) or not _signed_nonce(signer, sent, nonce):
                return problem(
                    "csrf-failed", "this form is stale or was not sent by the console: reload it"
                )
        response = await handler(request)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                httponly=True,
                samesite="Strict",
                secure=secure_cookie,
                path="/",
            )
        return response

    return protect


def _signed_nonce(signer: Signer, token: str, nonce: str) -> bool:
    try:
        signed = signer.unsign(token).decode()
    except BadSignature:
        return False
    return hmac.compare_digest(signed.encode(), nonce.encode())
