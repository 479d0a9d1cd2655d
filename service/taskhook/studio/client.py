"""Livepeer Studio's REST API, as much of it as ``taskhook reconcile`` reads (docs/reconcile.md).

Lists are read by watermark, never by cursor: ordered by one time field ascending and asked
again from the last value seen, with rows deduplicated. Offset cursors skip or repeat rows that
change between pages, and the ``Link`` header Studio sends has quirks of its own (a
``cursor=undefined`` on the last page, an ``http://`` scheme behind its proxy).

429, 5xx and network failures are retried with backoff, honouring ``Retry-After``; every other
refusal is raised at once: ``StudioRefused`` for the key, ``StudioFailed`` for the rest.
"""

import email.utils
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from yarl import URL

from taskhook.core.recovery import StudioFailed, StudioRefused
from taskhook.core.redaction import redact_url

# Studio's largest page; a page this full of one single watermark value cannot be got past.
MAX_PAGE = 1000
# Per request: a list page comes back in a second or two. A resend waits for the receiver (up
# to Studio's own 30 s) before Studio answers.
REQUEST_TIMEOUT_S = 30.0
RESEND_TIMEOUT_S = 60.0
# A longer Retry-After is cut to this: a run that waits minutes per call is a run that hangs.
MAX_RETRY_AFTER_S = 120.0

Row = Mapping[str, Any]


class StudioMissing(StudioFailed):
    """404: what was asked for is not there (or not in the key's project)."""


class _Transient(Exception):
    def __init__(self, what: str, retry_after_s: float | None = None) -> None:
        super().__init__(what)
        self.retry_after_s = retry_after_s


class StudioClient:
    """Calls Studio with one project's API key over ``session``, which the caller owns."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        page_size: int = 100,
        attempts: int = 5,
        backoff_s: float = 1.0,
    ) -> None:
        self._session = session
        self._base = URL(base_url.rstrip("/"))
        self._api_key = api_key
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._page_size = page_size
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def webhooks(self) -> list[Row]:
        """Every webhook of the key's project.

        Read by offset pages ordered by id: the list is short and rarely changes, and
        ``createdAt``, the only time field, is optional on a webhook.
        """
        found: list[Row] = []
        while True:
            query = {"order": "id-false", "limit": str(MAX_PAGE), "cursor": f"skip{len(found)}"}
            page = _rows(await self._call("GET", "/webhook", query), "/webhook")
            found += page
            if len(page) < MAX_PAGE:
                return found

    async def webhook(self, webhook_id: str) -> Row:
        """One webhook of the key's project; ``StudioFailed`` when there is none by that id."""
        path = f"/webhook/{webhook_id}"
        try:
            found = await self._call("GET", path, {})
        except StudioMissing:
            raise StudioFailed(f"webhook {webhook_id} is not one of this key's project") from None
        if not isinstance(found, dict):
            raise StudioFailed(f"Studio answered GET {path} with something not an object")
        return found

    def delivery_logs(self, webhook_id: str, since_ms: int) -> AsyncIterator[Row]:
        """Every delivery attempt of ``webhook_id`` logged since ``since_ms``, oldest first."""
        return self._scan(f"/webhook/{webhook_id}/log", field="createdAt", since_ms=since_ms)

    def tasks(self, since_ms: int) -> AsyncIterator[Row]:
        """Every task whose ``status.updatedAt`` is ``since_ms`` or later, oldest change first.

        A task that changes while the list is read is seen again in its new state.
        """
        return self._scan("/task", field="updatedAt", since_ms=since_ms)

    async def resend(self, webhook_id: str, log_id: str) -> Row:
        """Ask Studio to send a logged attempt again; returns the new attempt's log record.

        Not retried: a resend that failed after reaching the receiver must not go twice.
        """
        path = f"/webhook/{webhook_id}/log/{log_id}/resend"
        record = await self._call("POST", path, {}, retry=False, timeout_s=RESEND_TIMEOUT_S)
        if not isinstance(record, dict):
            raise StudioFailed(f"Studio answered POST {path} with something not an object")
        return record

    async def _scan(self, path: str, *, field: str, since_ms: int) -> AsyncIterator[Row]:
        watermark, limit = since_ms, self._page_size
        seen: set[tuple[object, object]] = set()
        while True:
            query = {
                "filters": orjson.dumps([{"id": field, "value": {"gte": watermark}}]).decode(),
                "order": f"{field}-false",
                "limit": str(limit),
            }
            page = _rows(await self._call("GET", path, query), path)
            for row in page:
                key = (row.get("id"), _field_of(row, field))
                if key not in seen:
                    seen.add(key)
                    yield row
            if len(page) < limit:
                return
            watermark, limit = _next_page(page, field, watermark, limit, path)

    async def _call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        *,
        retry: bool = True,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts if retry else 1),
            wait=_wait_for(
                wait_exponential(multiplier=self._backoff_s, max=30.0)
                + wait_random(0, self._backoff_s)
            ),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, query, timeout_s)
        except _Transient as e:
            raise StudioFailed(f"{method} {path}: {e}; try again later") from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _unreachable(self, error: Exception, host: str | None, timeout_s: float) -> Exception:
        """What to raise for a request that got no answer. A host that does not resolve is not
        retried: a mistyped TASKHOOK_STUDIO_URL is not fixed by asking again."""
        where = self._where()
        if isinstance(error, aiohttp.ClientConnectorDNSError):
            return StudioFailed(
                f"no host named {host} ({where}): check TASKHOOK_STUDIO_URL and this machine's DNS"
            )
        if isinstance(error, TimeoutError):
            return _Transient(f"{where} gave no answer within {timeout_s:.0f} s")
        if isinstance(error, aiohttp.ClientConnectorError):
            refused = isinstance(error.os_error, ConnectionRefusedError)
            why = "connection refused" if refused else type(error.os_error).__name__
            return _Transient(f"{where} could not be reached: {why}")
        # The text of a client error can hold the URL: its type and the base URL say enough.
        return _Transient(f"{where} could not be reached ({type(error).__name__})")

    def _where(self) -> str:
        """The base URL as a person set it, fit to print (no credentials, no query)."""
        return f"Studio at {redact_url(str(self._base))}"

    async def _once(
        self, method: str, path: str, query: Mapping[str, str], timeout_s: float
    ) -> Any:
        url = self._base.with_path(self._base.path + path).with_query(query)
        try:
            async with self._session.request(
                method,
                url,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise self._unreachable(e, url.host, timeout_s) from None
        if 200 <= status < 300:
            return _json(body, f"{method} {path}")
        # Studio's 401 says "no token <key> found": the key must not reach a terminal or a log.
        reason = _reason(body, hide=self._api_key)
        if status == 429 or status >= 500:
            raise _Transient(f"Studio answered {status}{reason}", _retry_after_s(retry_after))
        if status in (401, 403):
            raise StudioRefused(
                f"Studio refused the API key ({status}{reason}): set TASKHOOK_STUDIO_API_KEY "
                "to a backend key (not a CORS-enabled one) of the webhook's project"
            )
        if status == 404:
            raise StudioMissing(f"Studio answered {method} {path} with 404{reason}")
        raise StudioFailed(f"Studio answered {method} {path} with {status}{reason}")


def _next_page(
    page: list[Row], field: str, watermark: int, limit: int, path: str
) -> tuple[int, int]:
    """The watermark and page size to ask for after a full ``page``."""
    last = _field_of(page[-1], field)
    if not isinstance(last, int):
        raise StudioFailed(f"Studio answered GET {path} with a row without {field}")
    if last != watermark:
        return last, limit
    # A whole page of one value: only a larger page gets past it.
    if limit >= MAX_PAGE:
        raise StudioFailed(f"more than {MAX_PAGE} rows of GET {path} share one {field}")
    return watermark, min(limit * 4, MAX_PAGE)


def _wait_for(backoff: Callable[[RetryCallState], float]) -> Callable[[RetryCallState], float]:
    """Wait as Studio's ``Retry-After`` asks when it says, else back off exponentially."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after_s is not None:
            return min(error.retry_after_s, MAX_RETRY_AFTER_S)
        return backoff(state)

    return wait


def _retry_after_s(value: str | None) -> float | None:
    """RFC 9110 ``Retry-After``: seconds, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _field_of(row: Row, field: str) -> object:
    if field == "updatedAt":  # a task's updatedAt filter is its status.updatedAt
        status = row.get("status")
        return status.get("updatedAt") if isinstance(status, dict) else None
    return row.get(field)


def _json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise StudioFailed(f"Studio answered {what} with a body that is not JSON") from None


def _rows(page: Any, path: str) -> list[Row]:
    if not isinstance(page, list) or not all(isinstance(row, dict) for row in page):
        raise StudioFailed(f"Studio answered GET {path} with something not a list of objects")
    return page


def _reason(body: bytes, *, hide: str) -> str:
    """``: not found`` from Studio's ``{"errors": [...]}`` body, or nothing; ``hide`` (the key)
    is masked before the text is cut, so no part of it survives."""
    try:
        errors = orjson.loads(body).get("errors")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    if isinstance(errors, list) and errors and isinstance(errors[0], str):
        text = errors[0].replace(hide, "<TASKHOOK_STUDIO_API_KEY>") if hide else errors[0]
        return f": {text[:200]}"
    return ""
