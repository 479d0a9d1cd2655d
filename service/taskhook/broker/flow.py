"""Flow control: whether the broker is refusing this connection's publishes right now.

A broker in a memory or disk alarm sends ``connection.blocked`` and holds every publish until
``connection.unblocked`` (the alarm is cluster-wide). aiormq tracks the state but does not expose
it: it lives in a private event that ``ready()`` waits on. It is read here, in one place, and
``tests/unit/test_flow.py`` fails on an aiormq release that renames it.
"""

import asyncio

from aiormq.abc import AbstractConnection

# Name-mangled from aiormq.connection.Connection.__connection_unblocked (aiormq 7.x).
UNBLOCKED_EVENT = "_Connection__connection_unblocked"


def is_blocked(connection: AbstractConnection) -> bool:
    """True while the broker has blocked ``connection``'s publishes."""
    unblocked = getattr(connection, UNBLOCKED_EVENT, None)
    return isinstance(unblocked, asyncio.Event) and not unblocked.is_set()
