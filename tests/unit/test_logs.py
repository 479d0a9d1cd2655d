import asyncio
import io
import json
import logging

import pytest

from taskhook.logs import JsonLines, LinesOnStdout, configure_logging, log_with_fields


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_the_amqp_libraries_never_log_frames_even_when_debugging() -> None:
    # aiormq logs whole frames, payloads included, at DEBUG.
    configure_logging("DEBUG")
    assert not logging.getLogger("aiormq.connection").isEnabledFor(logging.INFO)
    assert not logging.getLogger("aio_pika.exchange").isEnabledFor(logging.INFO)
    assert logging.getLogger("taskhook.webhook").isEnabledFor(logging.DEBUG)


@pytest.mark.usefixtures("restore_logging")
def test_a_log_line_is_one_json_object_with_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("taskhook.webhook").info("webhook answered", extra={"status": 202})
    line = capsys.readouterr().out.strip()
    record = json.loads(line)
    assert record["message"] == "webhook answered"
    assert record["status"] == 202
    assert record["level"] == "INFO"
    assert record["logger"] == "taskhook.webhook"
    assert record["time"].endswith("+00:00")


@pytest.mark.usefixtures("restore_logging")
def test_a_library_error_with_a_traceback_becomes_one_warning_line_naming_the_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    try:
        raise ConnectionError("CONNECTION_FORCED - secret-looking detail in a frame")
    except ConnectionError:
        logging.getLogger("aiormq.connection").exception("Unexpected connection close")
    record = json.loads(capsys.readouterr().out.strip())
    assert record["level"] == "WARNING"
    assert record["error"] == "ConnectionError"
    assert "exc_info" not in record
    assert "secret-looking" not in json.dumps(record)


@pytest.mark.usefixtures("restore_logging")
def test_our_own_errors_keep_their_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("taskhook.webhook").error("unhandled error", extra={"error": "KeyError"})
    assert json.loads(capsys.readouterr().out.strip())["level"] == "ERROR"


class CountingStream(io.StringIO):
    """A stream that counts its writes, as the system calls they become."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _handler(stream: CountingStream) -> logging.Logger:
    handler = LinesOnStdout(stream)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("test.lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


async def test_the_lines_of_one_loop_turn_leave_in_one_write_when_the_turn_ends() -> None:
    stream = CountingStream()
    logger = _handler(stream)
    for number in range(3):
        logger.info("webhook answered", extra={"n": number})
    assert stream.writes == 0  # held until the turn ends
    await asyncio.sleep(0)
    assert stream.writes == 1
    assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == [0, 1, 2]


async def test_a_warning_is_written_at_once_with_what_was_held() -> None:
    stream = CountingStream()
    logger = _handler(stream)
    logger.info("held")
    logger.warning("broker blocks publishing")
    assert stream.writes == 1
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "held",
        "broker blocks publishing",
    ]


def test_outside_a_loop_each_line_is_written_at_once() -> None:
    stream = CountingStream()
    logger = _handler(stream)
    logger.info("listening")
    assert stream.writes == 1


def test_the_extra_fields_keep_their_order_and_the_traceback_is_kept_for_our_own_errors() -> None:
    stream = CountingStream()
    logger = _handler(stream)
    try:
        raise KeyError("x")
    except KeyError:
        logger.exception("unhandled error", extra={"b": 1, "a": object()})
    record = json.loads(stream.getvalue())
    assert list(record)[:5] == ["level", "logger", "message", "b", "a"]
    assert record["a"].startswith("<object object")  # what JSON cannot hold, as its text
    assert "KeyError" in record["exc_info"]
    assert list(record)[-1] == "time"


def test_log_with_fields_gives_the_record_its_fields_as_extra_does() -> None:
    stream = CountingStream()
    logger = _handler(stream)
    log_with_fields(logger, logging.INFO, "webhook answered", {"status": 202, "cause": "ok"})
    logger.info("webhook answered", extra={"status": 202, "cause": "ok"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    first.pop("time"), second.pop("time")
    assert (
        first
        == second
        == {
            "level": "INFO",
            "logger": "test.lines",
            "message": "webhook answered",
            "status": 202,
            "cause": "ok",
        }
    )
