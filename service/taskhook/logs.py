"""JSON lines on stdout: one object per event, fields named the same everywhere."""

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter

# Libraries whose records are expected conditions we already handle and log our own line for:
# a broker closing the connection (aio-pika, aiormq), a client sending broken HTTP (aiohttp).
LIBRARY_LOGGERS = ("aio_pika", "aiormq", "aiohttp")


class LibraryRecordsWithoutTracebacks(logging.Filter):
    """A library's record keeps its message but loses its traceback, and is at most a warning.

    aiormq logs a connection the broker closed at ERROR with a traceback, and aiohttp logs every
    malformed request the same way; at 3 a.m. those read as crashes, and a traceback may quote
    the bytes a stranger sent. The exception's type is kept as ``error``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(LIBRARY_LOGGERS):
            return True
        if record.exc_info and record.exc_info[1] is not None:
            record.error = type(record.exc_info[1]).__name__
        record.exc_info = record.exc_text = record.stack_info = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = (
                logging.WARNING,
                logging.getLevelName(logging.WARNING),
            )
        return True


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
    handler.addFilter(LibraryRecordsWithoutTracebacks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Each webhook gets one line of its own; aiohttp's access log would repeat it.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aio-pika logs every reconnect attempt with a traceback; our supervisor logs one line.
    logging.getLogger("aio_pika").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
