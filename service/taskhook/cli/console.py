"""``taskhook console``: the pages people open in a browser, on a port of their own."""

import argparse
import logging
import sys
from typing import Any

from taskhook import bootstrap
from taskhook.cli.options import listen_failure
from taskhook.settings import ConsoleSettings

log = logging.getLogger("taskhook")


def add_commands(commands: Any) -> None:
    console = commands.add_parser(
        "console",
        help="serve the console: tasks, held-back queues, consumers, live events",
        description="Serve the console on TASKHOOK_CONSOLE_HOST:TASKHOOK_CONSOLE_PORT "
        "(127.0.0.1:8082 by default) until SIGTERM. Listening elsewhere needs "
        "TASKHOOK_CONSOLE_TOKEN; it reads the tasks database at TASKHOOK_DATABASE_URL.",
    )
    console.set_defaults(run=run_console)


def run_console(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.console.process import serve_console
    from taskhook.http.server import CannotListen
    from taskhook.logs import configure_logging

    settings = bootstrap.load_settings(ConsoleSettings)
    configure_logging(settings.log_level)
    # A broker out of reach is said on the page and in one line of the console's own; the
    # libraries would log a traceback per page view.
    for library in ("aio_pika", "aiormq"):
        logging.getLogger(library).setLevel(logging.CRITICAL + 1)
    try:
        uvloop.run(serve_console(bootstrap.console_app(settings), settings))
    except CannotListen as e:
        line, status = listen_failure(
            e, host_setting="TASKHOOK_CONSOLE_HOST", port_setting="TASKHOOK_CONSOLE_PORT"
        )
        print(f"taskhook console: {line}", file=sys.stderr)
        return status
    return 0
