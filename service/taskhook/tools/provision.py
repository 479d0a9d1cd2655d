"""``taskhook topology``: declare what the services declare, up front, and say what it is."""

from aiormq.exceptions import ChannelPreconditionFailed

from taskhook.broker.declare import declare
from taskhook.broker.topology import Declarations, FieldTable
from taskhook.tools.broker import ToolFailed, connect
from taskhook.tools.columns import columns


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


def describe(declarations: Declarations) -> list[str]:
    """One line per exchange, queue and binding, as ``taskhook topology`` prints them."""
    rows: list[tuple[str, str, str, str]] = [
        ("exchange", spec.name, spec.type, _arguments(spec.arguments))
        for spec in declarations.exchanges
    ]
    rows += [("queue", spec.name, "", _arguments(spec.arguments)) for spec in declarations.queues]
    rows += [
        ("binding", b.exchange, b.routing_key or "", f"-> {b.queue}") for b in declarations.bindings
    ]
    rows += [
        ("binding", b.source, b.routing_key, f"-> exchange {b.destination}")
        for b in declarations.exchange_bindings
    ]
    return columns(rows)


def _arguments(arguments: FieldTable) -> str:
    return " ".join(f"{name}={value!s}" for name, value in arguments.items())
