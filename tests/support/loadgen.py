"""A steady stream of signed deliveries from a process of its own, every answer written down.

    python -m tests.support.loadgen --url http://127.0.0.1:8080/webhooks/livepeer \\
        --rate 100 --duration 10 --out answers.jsonl

Each delivery is a sample with a fresh event id, stamped and signed as Livepeer's sender does
(``tests.support.deliveries``). Sending is open-loop at a fixed rate, as webhooks arrive: a slow
answer does not slow the stream down (up to ``--max-in-flight``). One JSON line per delivery,
flushed as it is answered so a test can read it even if this process is killed:
``{"id", "status": 202 | null, "sent_at_s", "latency_s", "error": null | "timeout" | "..."}``.
A ``status`` of null means no answer at all (connection refused or reset, or no answer within
``--timeout``): Livepeer's sender retries those, like any 5xx. SIGTERM stops the stream and waits
for the answers still due.
"""

import argparse
import asyncio
import contextlib
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson

from tests.support.deliveries import SECRET, load_sample, signed

# What Livepeer's sender waits for an answer before counting the attempt failed and retrying.
SENDER_TIMEOUT_S = 30.0
SAMPLES = (
    "task.spawned.upload.json",
    "task.updated.upload.running.json",
    "task.completed.upload.json",
    "task.failed.transcode-file.json",
)


@dataclass(frozen=True)
class Answer:
    id: str
    status: int | None
    sent_at_s: float  # since the stream started
    latency_s: float
    error: str | None

    def line(self) -> bytes:
        return orjson.dumps(self.__dict__) + b"\n"


def read_answers(path: Path) -> list[Answer]:
    """Every answer written so far (a line cut short by a kill is ignored)."""
    answers = []
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            answers.append(Answer(**orjson.loads(line)))
    return answers


def fresh_delivery(number: int) -> dict[str, Any]:
    """A sample delivery that has never been sent: its own event id."""
    document = load_sample(SAMPLES[number % len(SAMPLES)])
    document["id"] = str(uuid.uuid4())
    return document


async def send_one(
    session: aiohttp.ClientSession, url: str, number: int, secret: str, timeout_s: float, t0: float
) -> Answer:
    document = fresh_delivery(number)
    body, headers = signed(document, secret=secret)
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with (
            asyncio.timeout(timeout_s),
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            status = response.status
    except TimeoutError:
        error = "timeout"
    except (aiohttp.ClientError, OSError) as e:
        error = type(e).__name__
    latency = time.monotonic() - started
    return Answer(document["id"], status, round(started - t0, 4), round(latency, 4), error)


async def stream(args: argparse.Namespace, out: IO[bytes]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    in_flight: set[asyncio.Task[None]] = set()
    room = asyncio.Semaphore(args.max_in_flight)

    async def send(session: aiohttp.ClientSession, number: int, t0: float) -> None:
        try:
            answer = await send_one(session, args.url, number, args.secret, args.timeout, t0)
            out.write(answer.line())
            out.flush()
        finally:
            room.release()

    connector = aiohttp.TCPConnector(limit=args.max_in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        number = 0
        while not stop.is_set() and time.monotonic() - started < args.duration:
            await room.acquire()
            task = asyncio.create_task(send(session, number, started))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            number += 1
            # Pace against the start, not the last send, so the rate does not drift.
            delay = started + number / args.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        await asyncio.gather(*in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of stream")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per answer")
    parser.add_argument("--secret", default=SECRET)
    parser.add_argument("--timeout", type=float, default=SENDER_TIMEOUT_S)
    parser.add_argument("--max-in-flight", type=int, default=256)
    args = parser.parse_args()
    with args.out.open("ab") as out:
        asyncio.run(stream(args, out))


if __name__ == "__main__":
    main()
