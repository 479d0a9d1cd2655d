"""Putting messages in the broker as taskhook would: an event published, a delivery it refused."""

import orjson

from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem
from taskhook.core.message import OutgoingMessage, rejected_message
from tests.support.broker import AMQP_URL


async def put(exchange: str, *messages: OutgoingMessage) -> None:
    """Publish ``messages`` as taskhook does (all their properties, its connection), in order,
    each confirmed."""
    connection = await connect_amqp(AMQP_URL, "taskhook-test", publish_timeout_s=10)
    try:
        for message in messages:
            await confirm_or_fail(connection, exchange, message)
    finally:
        await connection.close(5)


async def keep_rejected(queue: str, body: bytes, *, received_at_ms: int) -> None:
    """``body`` in the rejected queue, as taskhook keeps a delivery it refused (here, as an
    older model would have: a valid delivery passes when replayed)."""
    refusal: BodyNotJson | DeliveryInvalid
    try:
        document = orjson.loads(body)
        refusal = DeliveryInvalid(
            (FieldProblem("/payload", "refused by an older model"),),
            context={"event_id": document["id"], "event": document["event"]},
        )
    except orjson.JSONDecodeError:
        refusal = BodyNotJson("the body is not valid JSON")
    message = rejected_message(body, refusal, queue=queue, received_at_ms=received_at_ms)
    await put("", message)
