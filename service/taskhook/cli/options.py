"""What the command modules share: exit statuses, option types, and the operator tools' failures."""

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskhook.http.server import CannotListen

EXIT_FAILED = 1  # it could not be done now: the broker, the database, a file
EXIT_USAGE = 2  # it can never work as asked: a bad configuration, option or name
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C: 128 + SIGINT, as a shell says it


def tool_failure(error: Exception) -> str | None:
    """What an operator tool says in one line when ``error`` stopped it, or None for a bug.

    Our own reason, or only the type of a broker error that broke a connection already open
    (where connecting failed, ``ToolFailed`` says why): its text can carry the URL.
    """
    # Imported here: only the commands that talk to the broker pay for importing aio-pika.
    from taskhook.broker.connection import BROKER_ERRORS
    from taskhook.tools.broker import ToolFailed

    if isinstance(error, ToolFailed):
        return str(error)
    if isinstance(error, BROKER_ERRORS):
        return f"the broker connection failed: {type(error).__name__}"
    return None


def listen_failure(
    error: "CannotListen", *, host_setting: str, port_setting: str
) -> tuple[str, int]:
    """The line to say when a server could not listen, naming the setting to change, and the
    exit status: 2 when the setting can never work here, 1 when it may work later."""
    host, port = error.host, error.port
    if error.problem == "in-use":
        return (
            f"cannot listen on {host}:{port}: another process listens there; stop it, or set "
            f"{port_setting} to a free port",
            EXIT_FAILED,
        )
    if error.problem == "no-such-host":
        return f"{host_setting}={host} is neither an IP address nor a known host name", EXIT_USAGE
    if error.problem == "not-local":
        return f"{host_setting}={host} is not an address of this machine", EXIT_USAGE
    if error.problem == "not-allowed":
        return (
            f"not allowed to listen on port {port} ({port_setting}): ports below 1024 need "
            "privileges; set a higher one",
            EXIT_USAGE,
        )
    return f"cannot listen on {host}:{port}: {error.error}", EXIT_FAILED


def http_url(text: str) -> str:
    """``text`` if it is an http:// or https:// URL with a host (an option's type)."""
    from yarl import URL

    try:
        url = URL(text)
        usable = url.scheme in ("http", "https") and bool(url.host)
    except ValueError:
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def delays_s(text: str) -> tuple[float, ...]:
    """Comma-separated seconds, as TASKHOOK_CONSUMER_RETRY_DELAYS_S has them (an option's type)."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        delays = ()
    if not delays or any(delay <= 0 for delay in delays):
        raise argparse.ArgumentTypeError(f"{text!r} is not delays in seconds like 5,30,300")
    return delays
