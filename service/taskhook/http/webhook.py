"""``POST /webhooks/livepeer``: read the delivery within its limits and hand it to ``Ingest``."""

import asyncio

import orjson
from aiohttp import web

from taskhook.application.dedup import Outcome
from taskhook.core.errors import BodyTimeout, BodyTooLarge, UnsupportedMediaType
from taskhook.http.state import BODY_TIMEOUT_S, INGEST, MAX_BODY_BYTES, TRACE

SIGNATURE_HEADER = "Livepeer-Signature"
STATUS_FOR = {Outcome.PUBLISHED: 202, Outcome.DUPLICATE: 200}


async def receive_webhook(request: web.Request) -> web.Response:
    """202 once the broker confirmed the event, 200 for one already confirmed; errors raise."""
    body = await read_json_body(request, request.app[MAX_BODY_BYTES], request.app[BODY_TIMEOUT_S])
    receipt = await request.app[INGEST].receive(body, request.headers.get(SIGNATURE_HEADER))
    request[TRACE] = receipt.delivery.log_fields
    return web.Response(
        body=orjson.dumps({"status": receipt.outcome.value, "id": receipt.delivery.envelope.id}),
        status=STATUS_FOR[receipt.outcome],
        content_type="application/json",
    )


async def read_json_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The raw body, refused before reading if declared too large or not JSON.

    A chunked body has no length to check up front: aiohttp's ``client_max_size`` (set to the
    same limit) stops it while it is read. A body that has not all arrived gets ``timeout_s``;
    one that came with its headers, as a webhook's usually does, is taken without a timer.
    """
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    if not _is_json(request.content_type):
        raise UnsupportedMediaType("the body must be application/json")
    try:
        if request.content.is_eof():
            return await request.read()
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"the body is larger than {limit} bytes") from None
    except TimeoutError:
        raise BodyTimeout("the body did not arrive in time") from None


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")
