"""How taskhook's broker clients ride out an outage: which errors mean "the broker", and how
long to wait before trying again."""

import itertools
import logging
from collections.abc import Iterator

from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 15.0
BROKER_ERRORS = (AMQPError, ConnectionError, OSError, ChannelInvalidStateError)


def reconnect_delays() -> Iterator[float]:
    """0.5 s, 1 s, 2 s, ... capped at 15 s: quick after a blip, gentle during a long outage."""
    for attempt in itertools.count():
        yield min(RECONNECT_FIRST_DELAY_S * 2 ** min(attempt, 16), RECONNECT_MAX_DELAY_S)


async def close_quietly(connection: AbstractConnection | None) -> None:
    """Close ``connection`` if it is open; a connection already broken has nothing to say."""
    if connection is None or connection.is_closed:
        return
    try:
        await connection.close()
    except BROKER_ERRORS:
        log.debug("closing a broken connection failed", exc_info=True)
