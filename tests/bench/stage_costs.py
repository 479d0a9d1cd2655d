"""The instructions each stage of the webhook path costs on its own, in one process.

``python -m tests.bench.stage_costs`` runs itself under valgrind's callgrind with counting off,
then runs each stage ``--calls`` times on the bench's signed deliveries with counting on, and
prints instructions per call per stage: taskhook's stages, and the straightforward handler's
(``peer``) for the same work. No broker, no sockets: what the code costs, not the kernel.
"""

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

CALLS_DEFAULT = 2000
STAGE_NAMES = (
    "empty",
    "signature",
    "parse + validate",
    "message (redaction, headers, body)",
    "publish-once memory",
    "log line",
    "metrics (answered)",
    "answer (orjson + Response)",
    "AMQP properties (marshalled from the message)",
    "peer: signature",
    "peer: validate + Message",
    "peer: answer (json_response)",
)


def stages(lines: list[tuple[str, bytes]]) -> dict[str, Callable[[int], Any]]:
    """Each stage as a function of the index of the delivery to work on."""
    from taskhook import bootstrap
    from taskhook.application.dedup import PublishOnce
    from taskhook.broker.confirmed import MessageProperties
    from taskhook.core.delivery import check_signed_timestamp, parse_body, validate_delivery
    from taskhook.core.message import event_message
    from taskhook.core.redaction import DEFAULT_REDACTION
    from taskhook.core.signature import verify_signature
    from taskhook.logs import configure_logging
    from taskhook.metrics import Metrics
    from tests.bench import plain_handler
    from tests.bench.run import SECRET

    configure_logging("INFO")
    log = logging.getLogger("taskhook.webhook")
    deliveries = [validate_delivery(parse_body(body)) for _, body in lines]
    metrics = Metrics.create()
    messages = [event_message(d, received_at_ms=1_764_800_000_123) for d in deliveries]
    once = PublishOnce(10_000)
    _ = bootstrap

    async def nothing() -> None:
        pass

    def publish_once(i: int) -> None:
        coroutine = once.run(deliveries[i].dedup_key, nothing)
        with contextlib.suppress(StopIteration):
            coroutine.send(None)

    log_line = _log_stage(log, deliveries)

    def validate(i: int) -> None:
        document = parse_body(lines[i][1])
        check_signed_timestamp(document, document["timestamp"])  # type: ignore[index]
        validate_delivery(document)

    import aio_pika

    def peer_message(i: int) -> None:
        delivery = plain_handler.Delivery.model_validate_json(lines[i][1])
        aio_pika.Message(
            lines[i][1],
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=delivery.id,
            content_type="application/json",
        )

    return {
        "empty": lambda i: None,
        "signature": lambda i: verify_signature(
            lines[i][0],
            lines[i][1],
            secrets=(SECRET,),
            now_ms=int(lines[i][0][2:15]),
            tolerance_ms=300_000,
        ),
        "parse + validate": validate,
        "message (redaction, headers, body)": lambda i: event_message(
            deliveries[i], received_at_ms=1, redaction=DEFAULT_REDACTION
        ),
        "publish-once memory": publish_once,
        "log line": log_line,
        "metrics (answered)": lambda i: metrics.answered("accepted", "ok"),
        "answer (orjson + Response)": lambda i: web.Response(
            body=orjson.dumps({"status": "accepted", "id": deliveries[i].envelope.id}),
            status=202,
            content_type="application/json",
        ),
        "AMQP properties (marshalled from the message)": lambda i: MessageProperties(
            messages[i]
        ).marshal(),
        "peer: signature": lambda i: plain_handler.signature_ok(lines[i][0], lines[i][1], SECRET),
        "peer: validate + Message": peer_message,
        "peer: answer (json_response)": lambda i: web.json_response(
            {"status": "accepted"}, status=202
        ),
    }


def _log_stage(log: logging.Logger, deliveries: list[Any]) -> Callable[[int], None]:
    """The webhook's log line, written in a running loop as in the server (all of them when
    called with 0)."""
    import taskhook.logs

    # The line as the webhook writes it (before issue 27: through Logger.log).
    write: Callable[[logging.Logger, int, str, Any], None] = getattr(
        taskhook.logs,
        "log_with_fields",
        lambda logger, level, message, fields: logger.log(level, message, extra=fields),
    )

    async def log_lines(count: int) -> None:
        for i in range(count):
            fields = {**deliveries[i].log_fields, "status": 202, "outcome": "accepted"}
            write(log, logging.INFO, "webhook answered", fields | {"latency_ms": 1.2})
            if i % 16 == 15:
                await asyncio.sleep(0)  # a turn of the loop: what is held is written

    def log_line(i: int) -> None:
        if i == 0:
            asyncio.run(log_lines(len(deliveries)))

    return log_line


def inside(calls: int, names: list[str]) -> None:
    from tests.bench.stages import signed_lines

    with tempfile.TemporaryDirectory() as scratch:
        lines = signed_lines(Path(scratch), calls)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # the log lines go nowhere, as in the bench
    from taskhook.http.server import GC_THRESHOLD

    chosen = stages(lines)
    assert tuple(chosen) == STAGE_NAMES
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)  # as the server collects
    marks = open(os.environ["TASKHOOK_STAGE_MARKS"], "w")  # noqa: SIM115
    measured = [0] + [  # the empty stage twice: the first pass of anything costs more
        index for index, name in enumerate(chosen) if not names or name in names or name == "empty"
    ]
    for index in measured:
        stage = chosen[STAGE_NAMES[index]]
        for i in range(min(calls, 200)):  # warm: caches, children, first-time imports
            stage(i)
        os.getppid()  # callgrind zeroes its counts here...
        for i in range(calls):
            stage(i)
        os.getpgrp()  # ...and writes them out here
        print(index, file=marks, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=CALLS_DEFAULT)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("stages", nargs="*", help="only these (default: all)")
    args = parser.parse_args()
    if args.inside:
        inside(args.calls, args.stages)
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "cg.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--zero-before=os_getppid",
                "--dump-before=os_getpgrp",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "tests.bench.stage_costs",
                "--inside",
                "--calls",
                str(args.calls),
                *args.stages,
            ],
            check=True,
            stderr=subprocess.DEVNULL,
            env=os.environ | {"TASKHOOK_STAGE_MARKS": str(Path(scratch) / "marks")},
        )
        order = [int(line) for line in (Path(scratch) / "marks").read_text().split()]
        counts: dict[int, int] = {}
        dumps = sorted(Path(scratch).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        for position, path in enumerate(dumps):
            lines = path.read_text(errors="replace").splitlines()
            counts[order[position]] = next(
                int(line.split()[1]) for line in lines if line.startswith("summary:")
            )
    empty = counts.pop(0, 0)  # the second pass of the empty stage (a dict keeps the last)
    for index, total in sorted(counts.items()):
        print(f"{(total - empty) / args.calls / 1000:8.1f} k  {STAGE_NAMES[index]}")


if __name__ == "__main__":
    main()
