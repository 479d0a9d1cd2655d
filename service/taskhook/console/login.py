"""Signing in to the console from another machine: a form that takes the token and sets the
cookie ``http.access`` reads. On this machine nothing asks for it (the rule of ``http.access``).

The token never goes into a page, a link or a log: the form posts it, the cookie (HttpOnly,
SameSite=Strict) carries it, and a refused request is sent here with only its path.
"""

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import SecretStr
from yarl import URL

from taskhook.console.render import render
from taskhook.http.access import TOKEN_COOKIE, token_matches

LOGIN_PATH = "/login"
# How long a browser keeps the cookie: a working day.
COOKIE_MAX_AGE_S = 12 * 3600
CONSOLE_TOKEN = web.AppKey("console_token", SecretStr)


@web.middleware
async def send_browsers_to_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page refused for want of the token becomes a redirect to the form; a script (anything
    that does not ask for HTML) keeps the 401 problem."""
    response = await handler(request)
    wants_page = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
    if response.status == 401 and wants_page:
        raise web.HTTPSeeOther(URL(LOGIN_PATH).with_query(next=request.rel_url.path_qs))
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    context = {"next": local_target(request.query.get("next")), "refused": False}
    return render("login.html", request, context)


async def log_in(request: web.Request) -> web.StreamResponse:
    """Set the cookie when the token is right; say so (401) and ask again when not."""
    form = await request.post()
    token, after = form.get("token"), local_target(form.get("next"))
    configured = request.app.get(CONSOLE_TOKEN)
    if configured is None or not isinstance(token, str) or not token_matches(token, configured):
        context = {"next": after, "refused": configured is not None}
        return render("login.html", request, context, status=401)
    redirect = web.HTTPSeeOther(after)
    redirect.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
    )
    raise redirect


async def log_out(request: web.Request) -> web.StreamResponse:
    redirect = web.HTTPSeeOther(LOGIN_PATH)
    redirect.del_cookie(TOKEN_COOKIE, path="/")
    raise redirect


def local_target(target: object) -> str:
    """Where to go after signing in: a path on this console only, never another site."""
    # "//host" and "/\\host" are other sites to a browser.
    if isinstance(target, str) and target.startswith("/") and target[1:2] not in ("/", "\\"):
        return target
    return "/tasks"
