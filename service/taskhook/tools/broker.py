"""What every operator command does first: connect to the broker, or say in one line why not."""

from aio_pika.abc import AbstractConnection

from taskhook.broker import connection

CONNECTION_NAME = "taskhook-tools"


class ToolFailed(Exception):
    """Said to the operator in one line; the command exits 1."""


async def connect(url: str) -> AbstractConnection:
    """A connection named for the tools; ``ToolFailed`` when the broker cannot be used.

    The reason says where and what went wrong (refused, unreachable, credentials, vhost), in
    ``taskhook.broker.connection``'s words: never the password.
    """
    try:
        return await connection.connect(url, CONNECTION_NAME)
    except connection.BROKER_ERRORS as e:
        raise ToolFailed(connection.connection_failure(e, url)) from None
