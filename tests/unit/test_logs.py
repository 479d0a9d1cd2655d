import json
import logging

import pytest

from taskhook.logs import configure_logging


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
