"""``POST /webhooks/livepeer``: read the delivery within its limits, hand it to ``Ingest``, and
answer, log and count the outcome, whatever it was."""

import asyncio
import time

import orjson
from aiohttp import web

from taskhook.application.dedup import Outcome
from taskhook.application.ingest import Ingest
from taskhook.core.errors import BodyTimeout, BodyTooLarge, UnsupportedMediaType
from taskhook.http.middleware import record_outcome
from taskhook.http.problems import answer_for_error
from taskhook.metrics import Metrics

SIGNATURE_HEADER = "Livepeer-Signature"
STATUS_FOR = {Outcome.PUBLISHED: 202, Outcome.DUPLICATE: 200}


class WebhookEndpoint:
    """The webhook's handler, with what it needs built once rather than looked up per request.

    It is the one layer between aiohttp and ``Ingest``: errors become their problem answers
    here (through ``answer_for_error``, as everywhere), and every answer gets its log line and
    its count, so the ingest's app needs no middleware.
    """

    def __init__(
        self, ingest: Ingest, metrics: Metrics, *, max_body_bytes: int, body_timeout_s: float
    ) -> None:
        self._ingest = ingest
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._body_timeout_s = body_timeout_s

    async def receive(self, request: web.Request) -> web.Response:
        """202 once the broker confirmed the event, 200 for one already confirmed; a problem
        answer for anything else."""
        started = time.perf_counter()
        try:
            body = await read_json_body(request, self._max_body_bytes, self._body_timeout_s)
            receipt = await self._ingest.receive(body, request.headers.get(SIGNATURE_HEADER))
        except Exception as error:
            response, cause, context = answer_for_error(error)
        else:
            delivery = receipt.delivery
            response = web.Response(
                body=orjson.dumps({"status": receipt.outcome.value, "id": delivery.envelope.id}),
                status=STATUS_FOR[receipt.outcome],
                content_type="application/json",
            )
            cause, context = "ok", delivery.log_fields
        record_outcome(self._metrics, response.status, cause, context, started)
        return response


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
