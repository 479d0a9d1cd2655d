"""What every operator command does first: connect to the broker, or say in one line why not."""

from aio_pika.abc import AbstractConnection

from taskhook.broker import connection

CONNECTION_NAME = "taskhook-tools"


class ToolFailed(Exception):
    """Said to the operator in one line; the command exits 1."""


async def connect(url: str) -> AbstractConnection:
    """A connection named for the tools; ``ToolFailed`` when the broker cannot be reached.

    The reason names the error's type only: a connection error's text can carry the URL.
    """
    try:
        return await connection.connect(url, CONNECTION_NAME)
    except connection.BROKER_ERRORS as e:
        raise ToolFailed(f"cannot reach the broker: {type(e).__name__}") from None
