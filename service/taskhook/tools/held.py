"""``taskhook inspect`` and ``discard``: read or drop what a held-back queue holds, all of it or
the messages of one id. ``taskhook replay`` is ``taskhook.tools.held_replay``.

Both borrow every message the queue holds ready (``taskhook.tools.borrowed``): what they do not
remove goes back when their connection closes, so a look changes nothing for good, and neither
does a crash.
"""

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from taskhook.core.held import LOOKS_BEFORE_WARNING, HeldQueue, as_json, summarize
from taskhook.core.message import ReceivedMessage
from taskhook.tools.borrowed import about, borrowed, take_all
from taskhook.tools.columns import columns


@dataclass(frozen=True, slots=True)
class Look:
    """The head of a held-back queue: how many it holds ready, and the first messages."""

    held_back: int
    messages: list[ReceivedMessage]


async def look(url: str, queue: HeldQueue, *, limit: int, wanted: str | None = None) -> Look:
    """Up to ``limit`` messages from the head of ``queue`` (only those ``wanted`` names, by
    message id or task id, when given); removes nothing."""
    async with borrowed(url, queue.name) as (_, source, held_back):
        taken = take_all(source, held_back, keep=limit, only=about(queue, wanted))
        messages = [message async for _, message in taken]
    return Look(held_back, messages)


async def inspect(
    url: str, queue: HeldQueue, *, limit: int, as_json_lines: bool, wanted: str | None = None
) -> int:
    """Print what ``look`` finds; remove nothing."""
    seen = await look(url, queue, limit=limit, wanted=wanted)
    messages = seen.messages
    print(f"{queue.name}: {seen.held_back} held back, showing {len(messages)}", file=sys.stderr)
    if as_json_lines:
        for message in messages:
            print(orjson.dumps(as_json(message)).decode())
    else:
        for line in columns([summarize(message, queue).row() for message in messages]):
            print(line)
    _warn_if_looked_at_often(messages)
    return 0


async def discard(
    url: str, queue: HeldQueue, wanted: str, *, confirm: Callable[[str], bool]
) -> int:
    """Remove the messages ``wanted`` names (by message id or task id) from ``queue`` once
    ``confirm`` (asked with what they are) says yes; leave every other message where it was.
    Returns 1 when none is there."""
    async with borrowed(url, queue.name) as (_, source, held_back):
        found = [pair async for pair in take_all(source, held_back, only=about(queue, wanted))]
        if not found:
            print(f"taskhook discard: no message of {wanted} in {queue.name}", file=sys.stderr)
            return 1
        for line in columns([summarize(message, queue).row() for _, message in found]):
            print(line)
        question = f"discard {len(found)} message(s) from {queue.name} for good? [y/N] "
        # Asked off the event loop: the connection keeps its heartbeats while a person reads.
        if not await asyncio.to_thread(confirm, question):
            print("nothing discarded")
            return 0
        for incoming, _ in found:
            await incoming.ack()
    print(f"discarded {len(found)} from {queue.name}")
    return 0


def _warn_if_looked_at_often(messages: list[ReceivedMessage]) -> None:
    looks = max((message.looks for message in messages), default=0)
    if looks >= LOOKS_BEFORE_WARNING:
        print(
            f"warning: a message here was delivered {looks} times. RabbitMQ 4.0 to 4.2 count "
            "every look and drop a message at the queue's delivery limit (20 by default): "
            "replay these, or raise the limit with a policy (see README, Operations).",
            file=sys.stderr,
        )
