"""taskhook reads aiormq's private flow-control state: an aiormq that renames it fails here,
not silently in production (every publish would then wait out its timeout during an alarm)."""

import asyncio

from aiormq.connection import Connection

from taskhook.broker.flow import UNBLOCKED_EVENT, is_blocked


async def test_aiormq_still_keeps_the_blocked_state_where_taskhook_reads_it() -> None:
    connection = Connection("amqp://guest:guest@127.0.0.1:1/")
    event = getattr(connection, UNBLOCKED_EVENT)
    assert isinstance(event, asyncio.Event)
    assert is_blocked(connection)  # not connected yet: held, like a blocked one
    event.set()
    assert not is_blocked(connection)
