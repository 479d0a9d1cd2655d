"""A fake of Livepeer Studio's API: what ``taskhook reconcile`` calls, with Studio's quirks.

Faithful to docs/reconcile.md section 1: Bearer keys of one project, ``{"errors": [...]}``
bodies, list parameters (``limit`` 20 by default and 1000 at most, ``skip<N>`` cursors,
``<field>-<desc>`` orders, JSON filters with ``gt/gte/lt/lte`` on numbers and a broken ``eq``),
a ``Link`` that says ``http://`` and, on a non-empty last page, ``cursor=undefined``, and offset
pages that drift when rows change between them (``between_pages`` changes them). ``fire`` plays
Livepeer's sender: it signs and POSTs a delivery and logs the attempt as Studio does; ``resend``
re-sends a logged attempt with a fresh timestamp, signed with the secret it was first sent with.
"""

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from taskhook.clock import now_ms
from taskhook.core.signature import sign

API_KEY = "studio-test-key"
Row = dict[str, Any]
# What each list can be filtered on, and how to read that field off a row.
LOG_FIELDS: dict[str, Callable[[Row], Any]] = {
    "createdAt": lambda row: row["createdAt"],
    "event": lambda row: row["event"],
    "success": lambda row: row["success"],
    "statusCode": lambda row: row["response"].get("status"),
    "id": lambda row: row["id"],
}
TASK_FIELDS: dict[str, Callable[[Row], Any]] = {
    "updatedAt": lambda row: row["status"]["updatedAt"],
    "createdAt": lambda row: row["createdAt"],
    "type": lambda row: row["type"],
    "id": lambda row: row["id"],
}
# An asset's updatedAt filter is its status.updatedAt, as a task's is.
ASSET_FIELDS = TASK_FIELDS | {"phase": lambda row: row["status"]["phase"]}
WEBHOOK_FIELDS: dict[str, Callable[[Row], Any]] = {
    "createdAt": lambda row: row["createdAt"],
    "id": lambda row: row["id"],
}


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class FakeStudio:
    """One project's webhooks, delivery logs, tasks and assets, served as Studio serves them."""

    api_key: str = API_KEY
    webhooks: list[Row] = field(default_factory=list)
    logs: dict[str, list[Row]] = field(default_factory=dict)
    tasks: list[Row] = field(default_factory=list)
    assets: list[Row] = field(default_factory=list)
    # Served once each, before anything else, to the first request whose path starts with the
    # prefix: (prefix, status, headers).
    failures: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    between_pages: Callable[[], None] | None = None
    requests: list[str] = field(default_factory=list)
    _secrets: dict[str, str] = field(default_factory=dict)  # by log id: stored, never returned

    def add_webhook(self, url: str, secret: str) -> Row:
        webhook = {
            "id": str(uuid.uuid4()),
            "name": "tasks",
            "url": url,
            "sharedSecret": secret,
            "createdAt": now_ms(),
            "events": ["task.spawned", "task.updated", "task.completed", "task.failed"],
        }
        self.webhooks.append(webhook)
        self.logs[str(webhook["id"])] = []
        return webhook

    async def fire(
        self,
        webhook: Row,
        document: Row,
        *,
        secret: str | None = None,
        at_ms: int | None = None,
        url: str | None = None,
    ) -> Row:
        """Send ``document`` to the webhook as Livepeer does and log the attempt, at ``at_ms``;
        ``secret`` and ``url`` as they were then, if not as the webhook has them now."""
        at_ms = now_ms() if at_ms is None else at_ms
        body = orjson.dumps({**document, "webhookId": webhook["id"], "timestamp": at_ms})
        secret = webhook["sharedSecret"] if secret is None else secret
        return await self._attempt(webhook["id"], url or webhook["url"], body, secret, at_ms)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/webhook", self._webhooks)
        app.router.add_get("/api/webhook/{id}", self._webhook)
        app.router.add_get("/api/webhook/{id}/log", self._logs)
        app.router.add_post("/api/webhook/{id}/log/{log}/resend", self._resend)
        app.router.add_get("/api/task", self._tasks)
        app.router.add_get("/api/asset", self._assets)
        return app

    async def _attempt(self, webhook_id: str, url: str, body: bytes, secret: str, at: int) -> Row:
        headers = {"content-type": "application/json", "user-agent": "livepeer.studio"}
        if secret:
            headers["Livepeer-Signature"] = sign(
                body, secret.encode(), orjson.loads(body)["timestamp"]
            )
        started = time.perf_counter()
        response: Row = {"body": ""}
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=5)
                ) as answer,
            ):
                reply = (await answer.read())[:1024]
                response = {
                    "body": base64.b64encode(reply).decode(),
                    "status": answer.status,
                    "statusText": answer.reason or "",
                }
        except (aiohttp.ClientError, TimeoutError):
            pass  # no answer: no status, as for a timeout or a refused connection
        record = {
            "id": str(uuid.uuid4()),
            "webhookId": webhook_id,
            "event": orjson.loads(body)["event"],
            "userId": "66e2161c-7670-4d05-b71d-da2d6979556f",
            "createdAt": at,
            "duration": time.perf_counter() - started,
            "success": 200 <= response.get("status", 0) < 300,
            "response": response,
            "request": {"url": url, "method": "POST", "headers": headers, "body": body.decode()},
        }
        self.logs[webhook_id].append(record)
        self._secrets[record["id"]] = secret
        return record

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        try:
            for number, (prefix, status, headers) in enumerate(self.failures):
                if request.path.startswith(prefix):
                    del self.failures[number]
                    raise Refused(status, f"Internal server error: scripted {status}", headers)
            self._authenticate(request)
            response: web.StreamResponse = await handler(request)
            return response
        except Refused as e:
            return web.json_response({"errors": [e.message]}, status=e.status, headers=e.headers)

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if not key:
            raise Refused(401, "request is not authenticated")
        if scheme.lower() != "bearer" or key != self.api_key:
            raise Refused(401, f"no token {key} found")

    async def _webhooks(self, request: web.Request) -> web.Response:
        return self._page(request, self.webhooks, WEBHOOK_FIELDS, "id-false")

    async def _webhook(self, request: web.Request) -> web.Response:
        for webhook in self.webhooks:
            if webhook["id"] == request.match_info["id"]:
                return web.json_response(webhook)  # sharedSecret included, as Studio does
        raise Refused(404, "not found")

    async def _logs(self, request: web.Request) -> web.Response:
        records = self.logs.get(request.match_info["id"], [])  # unknown webhook: 200 []
        return self._page(request, records, LOG_FIELDS, "createdAt-true")

    async def _tasks(self, request: web.Request) -> web.Response:
        return self._page(request, self.tasks, TASK_FIELDS, "updatedAt-true,createdAt-true")

    async def _assets(self, request: web.Request) -> web.Response:
        return self._page(request, self.assets, ASSET_FIELDS, "createdAt-true")

    async def _resend(self, request: web.Request) -> web.Response:
        webhook_id, log_id = request.match_info["id"], request.match_info["log"]
        if webhook_id not in self.logs:
            raise Refused(404, "webhook not found")
        found = [row for row in self.logs[webhook_id] if row["id"] == log_id]
        if not found:
            raise Refused(404, "webhook log not found")
        original = found[0]
        at = now_ms()
        body = orjson.dumps({**orjson.loads(original["request"]["body"]), "timestamp": at})
        record = await self._attempt(
            webhook_id, original["request"]["url"], body, self._secrets[log_id], at
        )
        return web.json_response(record)

    def _page(
        self,
        request: web.Request,
        rows: list[Row],
        fields: dict[str, Callable[[Row], Any]],
        default_order: str,
    ) -> web.Response:
        query = request.query
        chosen = [row for row in rows if _matches(row, _filters(query.get("filters")), fields)]
        for name, descending in reversed(_order(query.get("order", default_order), fields)):
            chosen.sort(key=lambda row, n=name: fields[n](row), reverse=descending)  # type: ignore[misc]
        limit = _limit(query.get("limit"))
        cursor = query.get("cursor", "skip0")
        if cursor == "undefined":
            return web.json_response([])
        offset = int(cursor.removeprefix("skip")) if cursor.startswith("skip") else 0
        page = chosen[offset : offset + limit]
        headers = {}
        if page:
            following = f"skip{offset + limit}" if offset + limit < len(chosen) else "undefined"
            # Built from the Host header with the scheme Studio sees behind its proxy: http.
            link = URL(f"http://{request.host}{request.path}").with_query(
                {**query, "cursor": following}
            )
            headers["Link"] = f'<{link}>; rel="next"'
        response = web.json_response(page, headers=headers)
        if self.between_pages is not None:  # after this page is written, before the next
            self.between_pages()
        return response


def _filters(text: str | None) -> list[Row]:
    if not text:
        return []
    try:
        filters = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Refused(400, "error parsing filters: invalid JSON") from None
    return list(filters)


def _matches(row: Row, filters: list[Row], fields: dict[str, Callable[[Row], Any]]) -> bool:
    for condition in filters:
        name, value = condition.get("id"), condition.get("value")
        if name not in fields:
            raise Refused(400, f'error parsing filters: Error: unknown field: "{name}"')
        actual = fields[name](row)
        if isinstance(value, dict):
            for comparison, bound in value.items():
                if comparison not in ("gt", "gte", "lt", "lte"):
                    raise Refused(400, f"error parsing filters: unknown comparison {comparison}")
                if not _compare(actual, comparison, bound):
                    return False
        elif str(actual).lower() != str(value).lower():
            return False
    return True


def _compare(actual: Any, comparison: str, bound: Any) -> bool:
    if actual is None:
        return False
    return bool(
        {
            "gt": actual > bound,
            "gte": actual >= bound,
            "lt": actual < bound,
            "lte": actual <= bound,
        }[comparison]
    )


def _order(text: str, fields: dict[str, Callable[[Row], Any]]) -> list[tuple[str, bool]]:
    order = []
    for part in text.split(","):
        name, _, descending = part.partition("-")
        if name in fields:  # unknown fields are dropped
            order.append((name, descending == "true"))
    return order or [("id", False)]


def _limit(text: str | None) -> int:
    try:
        limit = int(text or "")
    except ValueError:
        return 20
    return 20 if limit < 1 else min(limit, 1000)
