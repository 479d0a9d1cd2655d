"""JSON lines on stdout: one object per event, fields named the same everywhere."""

import asyncio
import logging
import sys
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TextIO

import orjson

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


class JsonLines(logging.Formatter):
    """A record as one JSON object: ``level``, ``logger``, ``message``, then the fields given
    with ``extra=`` (or added by a filter) in their order, ``exc_info``/``stack_info`` if any,
    and ``time`` (ISO 8601, UTC, microseconds). A value JSON cannot hold is written as its text.

    The extra fields are the attributes a record gains after ``LogRecord.__init__``, so they
    are found by position: the ingest writes a line per delivery, and walking the twenty-odd
    standard attributes of each record to tell them apart cost more than the rest of the line.
    """

    def __init__(self) -> None:
        super().__init__()
        self._standard = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))

    def format(self, record: logging.LogRecord) -> str:
        return self.line(record).decode()

    def line(self, record: logging.LogRecord) -> bytes:
        """The record's line, without its newline."""
        fields: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # In C, no loop of ours: a ``message`` a formatter set earlier is the same text, in place.
        fields.update(islice(vars(record).items(), self._standard, None))
        fields.pop("asctime", None)  # set by a formatter that ran before, with its own format
        if record.exc_info:
            fields["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exc_info"] = record.exc_text
        if record.stack_info:
            fields["stack_info"] = self.formatStack(record.stack_info)
        fields["time"] = datetime.fromtimestamp(record.created, UTC)
        return orjson.dumps(fields, default=str)


def log_with_fields(
    logger: logging.Logger, level: int, message: str, fields: dict[str, Any]
) -> None:
    """``logger.log(level, message, extra=fields)`` for a line logged per request: the record
    takes its fields in one step, where ``Logger.makeRecord`` checks them one at a time (half
    the cost of making the record). No field may be named like a ``LogRecord`` attribute."""
    if logger.isEnabledFor(level):
        record = logging.getLogRecordFactory()(
            logger.name, level, "(unknown file)", 0, message, (), None
        )
        vars(record).update(fields)
        logger.handle(record)


class LinesOnStdout(logging.Handler):
    """Writes lines to ``stream``, those of one turn of the event loop in one write.

    Each line used to cost a ``write`` system call of its own. Now the lines logged during one
    turn of a running event loop are written together when the turn ends: the ingest answers
    the deliveries of a turn in the same turn, so a SIGKILL can lose the lines of answers that
    were being sent at that very moment, and no others. Outside a running loop (start-up,
    commands, other threads), and from WARNING up, a line is written at once, with anything
    still held. ``logging.shutdown`` (at exit) writes what is held.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._held: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._held.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self.flush()
            return
        if self._flush_on is not None:  # the turn's write is already due
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_on = loop
        loop.call_soon(self.flush)

    def flush(self) -> None:
        assert self.lock is not None  # made by Handler.__init__
        with self.lock:
            self._flush_on = None
            if not self._held:
                return
            text = "\n".join(self._held) + "\n"
            self._held.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # stdout closed or gone: nowhere left to say it
                pass


def configure_logging(level: str) -> None:
    """Route every logger (ours, aiohttp's, aio-pika's) to stdout as JSON lines."""
    # The ingest logs a line per delivery; these are what a record costs besides the line
    # itself (the logging HOWTO's "Optimization"): the caller's file and line, and thread and
    # process names, none of which the JSON lines carry.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LinesOnStdout(sys.stdout)
    handler.setFormatter(JsonLines())
    handler.addFilter(LibraryRecordsWithoutTracebacks())
    root = logging.getLogger()
    for replaced in root.handlers:
        replaced.flush()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Each webhook gets one line of its own; aiohttp's access log would repeat it.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aio-pika logs every reconnect attempt with a traceback; our supervisor logs one line.
    logging.getLogger("aio_pika").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
