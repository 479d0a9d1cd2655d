"""What every operator command does first: connect to the broker, or say in one line why not."""

import aio_pika
from aio_pika.abc import AbstractConnection

from taskhook.broker.reconnect import BROKER_ERRORS, CONNECT_TIMEOUT_S


class ToolFailed(Exception):
    """Said to the operator in one line; the command exits 1."""


async def connect(url: str) -> AbstractConnection:
    """A connection named for the tools; ``ToolFailed`` when the broker cannot be reached.

    The reason names the error's type only: a connection error's text can carry the URL.
    """
    try:
        return await aio_pika.connect(
            url, timeout=CONNECT_TIMEOUT_S, client_properties={"connection_name": "taskhook-tools"}
        )
    except (*BROKER_ERRORS, TimeoutError) as e:
        raise ToolFailed(f"cannot reach the broker: {type(e).__name__}") from None
