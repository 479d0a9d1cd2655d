"""``taskhook send``: sign deliveries exactly as Livepeer does and POST them to taskhook."""

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import orjson

from taskhook.clock import now_ms
from taskhook.core.events import TaskEventName
from taskhook.core.signature import sign
from taskhook.tools.samples import SampleTask, SampleType, delivery, life

Document = dict[str, Any]
LONE_EVENT_AGE_MS = 90_000
REQUEST_TIMEOUT_S = 35.0  # a little longer than Livepeer waits, to show what it would have seen


def sample_life(task_type: SampleType, event: TaskEventName, count: int) -> Iterator[Document]:
    """One made-up task's life in ``count`` deliveries, each built as it is about to be sent."""
    # A task met only at its end began a while before it.
    created_at_ms = now_ms() - (LONE_EVENT_AGE_MS if count == 1 and event != "task.spawned" else 0)
    task = SampleTask(
        id=str(uuid.uuid4()),
        type=task_type,
        webhook_id=str(uuid.uuid4()),
        created_at_ms=created_at_ms,
    )
    for step in life(count, event):
        yield delivery(task, step, event_id=str(uuid.uuid4()), at_ms=now_ms())


def repeated(document: Document, count: int) -> Iterator[Document]:
    """The same delivery ``count`` times, as Livepeer's retries of one event would be."""
    for _ in range(count):
        yield dict(document)


async def send(
    documents: Iterator[Document],
    *,
    url: str,
    secret: str,
    rate: float | None = None,
    hint: str | None = None,
) -> int:
    """POST each document with a fresh ``timestamp``, compact and signed; print each answer as
    ``<status> <event> <body>``. At most ``rate`` a second when given, else one after another.
    ``hint`` ends the line said when ``url`` cannot be reached (what to check).

    Returns 0 when every answer was 2xx, 1 otherwise.
    """
    pace = _pacer(rate)
    failed = False
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for document in documents:
            await pace()
            try:
                status, answer = await _post(session, url, document, secret)
            except (aiohttp.ClientConnectionError, TimeoutError) as e:
                reason = f"{type(e).__name__} {e}".strip()
                advice = f" ({hint})" if hint else ""
                print(f"taskhook send: cannot reach {url}: {reason}{advice}", file=sys.stderr)
                return 1
            print(status, document.get("event", "-"), answer, flush=True)
            failed |= status >= 300
    return 1 if failed else 0


async def _post(
    session: aiohttp.ClientSession, url: str, document: Document, secret: str
) -> tuple[int, str]:
    document["timestamp"] = now_ms()
    body = orjson.dumps(document)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "livepeer.studio",
        "Livepeer-Signature": sign(body, secret.encode(), document["timestamp"]),
    }
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


def _pacer(rate: float | None) -> Callable[[], Awaitable[None]]:
    """A coroutine function that waits for the next slot: the n-th send at start + n / rate."""
    started = time.monotonic()
    sent = 0

    async def pace() -> None:
        nonlocal sent
        if rate is not None:
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        sent += 1

    return pace
