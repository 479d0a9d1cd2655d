"""Rendering a page: its template, plus what every page needs (the CSRF token, where it is)."""

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from taskhook.console.csrf import CSRF_TOKEN


def render(
    template: str, request: web.Request, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """``template`` filled with ``context`` and the common names, as an HTML answer."""
    common = {"csrf_token": request.get(CSRF_TOKEN, ""), "path": request.path}
    return aiohttp_jinja2.render_template(template, request, common | context, status=status)
