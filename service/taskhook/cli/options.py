"""What the command modules share: exit statuses, option types, and the operator tools' failures."""

import argparse

EXIT_FAILED = 1  # it could not be done now: the broker, the database, a file
EXIT_USAGE = 2  # it can never work as asked: a bad configuration, option or name


def tool_failure(error: Exception) -> str | None:
    """What an operator tool says in one line when ``error`` stopped it, or None for a bug.

    Our own reason, or only the type of a broker error: its text can carry the URL.
    """
    # Imported here: only the commands that talk to the broker pay for importing aio-pika.
    from taskhook.broker.connection import BROKER_ERRORS
    from taskhook.tools.broker import ToolFailed

    if isinstance(error, ToolFailed):
        return str(error)
    if isinstance(error, BROKER_ERRORS):
        return type(error).__name__
    return None


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
