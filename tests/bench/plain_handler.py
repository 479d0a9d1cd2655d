"""The peer taskhook is measured against: the webhook handler a user would write in an afternoon.

Written as plainly as that, and never tuned: aiohttp on uvloop, the body read whole, HMAC-SHA256
compared with ``v1``, one pydantic model of the delivery validated from the bytes, and aio-pika
publishing on a confirm channel. No dedup, no rejected queue, no metrics, no log line per request.
"""

import argparse
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from typing import Any, Literal

import aio_pika
import uvloop
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

EXCHANGE = web.AppKey("exchange", aio_pika.abc.AbstractExchange)
SECRET = web.AppKey("secret", bytes)
TaskType = Literal[
    "upload", "export", "export-data", "transcode-file", "clip", "import", "transcode"
]


class Status(BaseModel):
    phase: Literal["pending", "waiting", "running", "failed", "completed", "cancelled"]
    updated_at: int = Field(alias="updatedAt")


class Snapshot(BaseModel):
    id: str
    type: TaskType
    created_at: int | None = Field(default=None, alias="createdAt")
    params: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    status: Status


class TaskRef(BaseModel):
    id: str
    type: str
    snapshot: Snapshot


class Payload(BaseModel):
    success: bool | None = None
    task: TaskRef


class Delivery(BaseModel):
    id: str
    webhook_id: str = Field(alias="webhookId")
    created_at: int = Field(alias="createdAt")
    timestamp: int
    event: str
    payload: Payload


def signature_ok(header: str, body: bytes, secret: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    if not signature_ok(request.headers.get("Livepeer-Signature", ""), body, request.app[SECRET]):
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        delivery = Delivery.model_validate_json(body)
    except ValidationError:
        return web.json_response({"error": "invalid"}, status=422)
    message = aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=delivery.id,
        content_type="application/json",
    )
    try:
        await request.app[EXCHANGE].publish(
            message, routing_key=f"{delivery.event}.{delivery.payload.task.type}"
        )
    except Exception:
        return web.json_response({"error": "broker"}, status=503)
    return web.json_response({"status": "accepted"}, status=202)


async def readyz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


async def broker(app: web.Application) -> AsyncIterator[None]:
    connection = await aio_pika.connect_robust(os.environ["TASKHOOK_AMQP_URL"])
    channel = await connection.channel(publisher_confirms=True)
    app[EXCHANGE] = await channel.get_exchange(os.environ["TASKHOOK_EXCHANGE"])
    yield
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = web.Application()
    app[SECRET] = os.environ["TASKHOOK_WEBHOOK_SECRETS"].encode()
    app.router.add_post("/webhooks/livepeer", webhook)
    app.router.add_get("/readyz", readyz)
    app.cleanup_ctx.append(broker)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
