"""``taskhook topology``: declare what the services declare, up front, and say what it is."""

from aiormq.exceptions import ChannelPreconditionFailed

from taskhook.broker.topology import Declarations, declare, describe
from taskhook.tools.broker import ToolFailed, connect


async def provision(url: str, declarations: Declarations) -> list[str]:
    """Declare ``declarations`` idempotently; the lines that describe them.

    Raises ``ToolFailed`` when the broker cannot be reached or refuses a declaration (a queue
    that exists with other arguments: the broker's reason names them).
    """
    async with await connect(url) as connection:
        try:
            await declare(await connection.channel(), declarations)
        except ChannelPreconditionFailed as e:
            raise ToolFailed(f"the broker refused a declaration: {e}") from None
    return describe(declarations)
