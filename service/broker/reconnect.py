"""How taskhook's broker clients ride out an outage: which errors mean "the broker", and how
long to wait before trying again."""

import itertools
from collections.abc import Iterator

from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

CONNECT_TIMEOUT_S = 5.0
RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 15.0
BROKER_ERRORS = (AMQPError, ConnectionError, OSError, ChannelInvalidStateError)


def reconnect_delays() -> Iterator[float]:
    """0.5 s, 1 s, 2 s, ... capped at 15 s: quick after a blip, gentle during a long outage."""
    for attempt in itertools.count():
        yield min(RECONNECT_FIRST_DELAY_S * 2 ** min(attempt, 16), RECONNECT_MAX_DELAY_S)
