"""The one way taskhook publishes: persistent, mandatory, and awaited until the broker confirms.

The ingest, the consumers' retry and dead-letter forwarding, ``taskhook replay`` and ``taskhook
reconcile`` all publish with ``confirm_or_fail``, on taskhook's own connection
(``taskhook.broker.amqp``), so a message is either confirmed or reported as ``PublishFailed``
with a cause the HTTP layer and the tools know how to word, and its AMQP properties come from
``amqp_properties`` alone.
"""

from datetime import UTC, datetime
from typing import cast

from pamqp import commands as spec
from pamqp.common import FieldTable

from taskhook.broker.amqp import AmqpConnection, ConnectionLost, Nacked, Returned, WriteBlocked
from taskhook.core.errors import PublishCause, PublishFailed
from taskhook.core.message import PERSISTENT, OutgoingMessage


async def confirm_or_fail(
    connection: AmqpConnection, exchange: str, message: OutgoingMessage
) -> None:
    """Publish ``message`` (mandatory, persistent) on ``connection`` and return once the broker
    confirmed it, within the connection's publish timeout; every failure is ``PublishFailed``.

    A cancelled caller gives up its confirm, not the publish: the message may still arrive.
    """
    cause: PublishCause
    try:
        properties = amqp_properties(message)
        await connection.publish(exchange, message.routing_key, properties, message.body)
        return
    except TimeoutError:
        cause, detail = "publish-timeout", "the broker did not confirm in time"
    except Returned:
        cause, detail = "publish-unroutable", "the broker returned the message as unroutable"
    except Nacked:
        cause, detail = "publish-nacked", "the broker refused the message"
    except WriteBlocked:  # the broker stopped reading us: as good as an alarm, for the sender
        cause, detail = "broker-blocked", "the broker is not reading what taskhook sends"
    except ConnectionLost as e:
        if e.refused is None:  # a heartbeat missed, a socket closed: nobody said no
            cause, detail = "publish-interrupted", "the broker connection closed before the confirm"
        else:
            code = e.refused[0]
            cause, detail = "broker-unavailable", f"the broker closed the connection (code {code})"
    raise PublishFailed(cause, detail)


def amqp_properties(message: OutgoingMessage) -> spec.Basic.Properties:
    """Every AMQP property of ``message``: persistent, and nothing left to the client library."""
    timestamp = (
        datetime.fromtimestamp(message.timestamp_ms / 1000, tz=UTC)
        if message.timestamp_ms is not None
        else None
    )
    return spec.Basic.Properties(
        content_type=message.content_type,
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.type,
        headers=cast(FieldTable, dict(message.headers)),
        timestamp=timestamp,
        app_id=message.app_id,
    )
