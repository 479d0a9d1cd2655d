"""``taskhook topology``: declare what the services declare, up front, and say what it is."""

import aio_pika

from service.broker.reconnect import CONNECT_TIMEOUT_S
from service.broker.topology import Declarations, declare, describe


async def provision(url: str, declarations: Declarations) -> list[str]:
    """Declare ``declarations`` idempotently; the lines that describe them.

    Raises what aio-pika raises when the broker is unreachable, or refuses a declaration (a queue
    that exists with other arguments).
    """
    connection = await aio_pika.connect(
        url, timeout=CONNECT_TIMEOUT_S, client_properties={"connection_name": "taskhook-tools"}
    )
    async with connection:
        await declare(await connection.channel(), declarations)
    return describe(declarations)
