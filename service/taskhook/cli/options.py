"""What the command modules share: option types, and how an operator tool's failure is worded."""

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from taskhook.broker.connection import BROKER_ERRORS
from taskhook.tools.broker import ToolFailed

Command = Callable[[argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class ToolCommand:
    """An operator command that talks to the broker: its failures end in one line, exit 1."""

    run: Command
    FAILURES = (ToolFailed, *BROKER_ERRORS)

    def __call__(self, args: argparse.Namespace) -> int:
        return self.run(args)

    @staticmethod
    def reason(error: Exception) -> str:
        """Our own reason, or only the type of a broker error (its text can carry the URL)."""
        return str(error) if isinstance(error, ToolFailed) else type(error).__name__


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
