"""JSON lines on stdout: one object per event, fields named the same everywhere."""

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter


def configure_logging(level: str) -> None:
    """Route every logger (ours, aiohttp's, aio-pika's) to stdout as JSON lines."""
    # The ingest logs a line per delivery; these are what a record costs besides the line
    # itself (the logging HOWTO's "Optimization"): the caller's file and line, and thread and
    # process names, none of which the JSON lines carry. With orjson, a line costs half.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        OrjsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Each webhook gets one line of its own; aiohttp's access log would repeat it.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aio-pika logs every reconnect attempt with a traceback; our supervisor logs one line.
    logging.getLogger("aio_pika").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
