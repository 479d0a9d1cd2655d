"""The console's app: its pages, who may see them, and what they are built from."""

import logging
import secrets
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry

from taskhook.console import held_pages, history_pages, login, tasks_pages, watch_pages
from taskhook.console.broker import BrokerView
from taskhook.console.csrf import csrf_protection
from taskhook.console.login import CONSOLE_TOKEN, LOGIN_PATH, send_browsers_to_login
from taskhook.console.render import render
from taskhook.console.state import BROKER, STORE
from taskhook.http.access import OPEN_PATHS, require_token
from taskhook.http.middleware import answer_with_problems
from taskhook.http.probes import Probes, Readiness, add_probes
from taskhook.settings import ConsoleSettings
from taskhook.tasks.store import SchemaMissing, StoreUnavailable, TaskStore
from taskhook.tools.broker import ToolFailed

log = logging.getLogger("taskhook.console")
STATIC = Path(__file__).parent / "static"
# What a browser off this machine may load before it has the token: the form and its style.
CONSOLE_OPEN_PATHS = OPEN_PATHS | {LOGIN_PATH, "/static/console.css"}


def create_console_app(
    settings: ConsoleSettings, store: TaskStore, broker: BrokerView
) -> web.Application:
    """The console: pages over ``store`` and ``broker``, guarded as ``http.access`` says, every
    action a POST with a CSRF token. The store is closed with the app."""
    app = web.Application(
        middlewares=[
            answer_with_problems,
            send_browsers_to_login,
            require_token(settings.console_token, CONSOLE_OPEN_PATHS),
            csrf_protection(secrets.token_bytes(32)),
            show_failures,
        ]
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("taskhook.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app[STORE] = store
    app[BROKER] = broker
    if settings.console_token is not None:
        app[CONSOLE_TOKEN] = settings.console_token
    add_probes(
        app, Probes(CollectorRegistry(), lambda: Readiness(True, {}), not_ready="not serving")
    )
    app.router.add_static("/static", STATIC)
    app.router.add_routes(
        [
            web.get("/", home),
            web.get(LOGIN_PATH, login.login_form),
            web.post(LOGIN_PATH, login.log_in),
            web.post("/logout", login.log_out),
            web.get("/tasks", tasks_pages.tasks_list),
            web.get("/tasks/{task_id}", tasks_pages.task_page),
            web.get("/held", held_pages.held_overview),
            web.get("/held/{queue}", held_pages.held_queue_page),
            web.get("/held/{queue}/replay", held_pages.confirm_replay),
            web.post("/held/{queue}/replay", held_pages.replay),
            web.get("/consumers", watch_pages.consumers_page),
            web.get("/live", watch_pages.live_page),
            web.get("/live/events", watch_pages.live_events),
            web.get("/events/{event_id}", history_pages.event_body),
            web.get("/replay", history_pages.replay_window_form),
            web.post("/replay", history_pages.replay_window),
        ]
    )
    app.on_cleanup.append(lambda _: store.close())
    return app


@web.middleware
async def show_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The broker or the database out of reach: a page saying so in one line (503), in the
    tools' own words, which never carry a password."""
    try:
        return await handler(request)
    except (ToolFailed, SchemaMissing, StoreUnavailable) as e:
        log.warning("page unavailable", extra={"path": request.path, "reason": str(e)})
        context = {"reason": str(e)}
        return render("unavailable.html", request, context, status=503)


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/tasks")
