"""The ``taskhook`` command: its grammar, and the one place a failure becomes an exit status.

Each command group lives in a module of its own and registers its commands with ``add_commands``.
A command returns its exit status; what it cannot do it raises, and ``main`` says so in one line:
a configuration that cannot work exits 2, a broker an operator tool cannot use exits 1, and
Ctrl-C exits 130 (as a shell reports SIGINT) without a traceback.
"""

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version

from taskhook.bootstrap import BadConfiguration
from taskhook.cli import console, consume, history, operate, reconcile, serve, tasks
from taskhook.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, tool_failure


def parser() -> argparse.ArgumentParser:
    """Every ``taskhook`` command and its options; nothing is run here."""
    root = argparse.ArgumentParser(
        prog="taskhook", description="Livepeer task webhooks in, RabbitMQ messages out."
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {version('taskhook')}")
    # An operator tool (tool=True) that cannot use the broker ends in one line, exit 1.
    root.set_defaults(tool=False)
    commands = root.add_subparsers(dest="command", required=True)
    for group in (serve, consume, tasks, history, operate, reconcile, console):
        group.add_commands(commands)
    _describe_commands(root)
    return root


def _describe_commands(parser: argparse.ArgumentParser) -> None:
    """Each command's ``--help`` opens with the line the command list shows for it, unless it
    was given a longer description of its own."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            said = {choice.dest: choice.help for choice in action._choices_actions}
            for name, command in action.choices.items():
                command.description = command.description or said.get(name)
                _describe_commands(command)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tool: bool = args.tool
    if tool:
        # Their failures are said in one line of our own; the libraries would add a traceback.
        for library in ("aio_pika", "aiormq"):
            logging.getLogger(library).setLevel(logging.CRITICAL + 1)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:  # Ctrl-C: the person knows why it stopped
        return EXIT_INTERRUPTED
    except BadConfiguration as e:
        print(f"taskhook: bad configuration: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        reason = tool_failure(e) if tool else None
        if reason is None:
            raise
        print(f"taskhook {args.command}: {reason}", file=sys.stderr)
        return EXIT_FAILED
    return status
