"""``taskhook consume <consumer>`` and ``taskhook consumers``: running and listing consumers."""

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from taskhook import bootstrap
from taskhook.cli.options import EXIT_FAILED, EXIT_USAGE, listen_failure
from taskhook.settings import ConsumerSettings

if TYPE_CHECKING:
    from taskhook.consumers.consumer import Consumer

log = logging.getLogger("taskhook")


def add_commands(commands: Any) -> None:
    consume = commands.add_parser("consume", help="run one consumer until SIGTERM")
    consume.add_argument("consumer", help="a registered name (see `consumers`) or module:attribute")
    consume.set_defaults(run=run_consume)
    listing = commands.add_parser(
        "consumers", help="list the registered consumers and their bindings"
    )
    listing.set_defaults(run=list_consumers)


def run_consume(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.consumers import registry
    from taskhook.consumers.process import run_consumer
    from taskhook.http.server import CannotListen
    from taskhook.logs import configure_logging

    settings = bootstrap.load_settings(ConsumerSettings)
    try:
        consumer = find_consumer(args.consumer)
    except registry.ConsumerNotFound as e:
        print(f"taskhook: {e}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level)
    if bootstrap.start_tracing():
        log.info("tracing on", extra={"consumer": consumer.name, "exporter": "otlp"})
    topology = bootstrap.consumer_topology(consumer, settings)
    try:
        uvloop.run(run_consumer(consumer, settings, topology))
    except CannotListen as e:
        line, status = listen_failure(
            e, host_setting="TASKHOOK_CONSUMER_HOST", port_setting="TASKHOOK_CONSUMER_PORT"
        )
        print(f"taskhook consume: {line}", file=sys.stderr)
        return status
    except Exception as e:  # e.g. its database is unreachable: one line, then a restart helps
        log.error(
            "consumer stopped by an error",
            extra={"consumer": consumer.name, "error": type(e).__name__, "detail": str(e)[:500]},
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return EXIT_FAILED
    return 0


def list_consumers(args: argparse.Namespace) -> int:
    from taskhook.consumers import registry

    for name, consumer in registry.registered().items():
        print(f"{name}\t{' '.join(consumer.bindings)}\t{consumer.summary}")
    return 0


def find_consumer(reference: str) -> "Consumer[Any]":
    """A registered consumer by name, or one a module beside you defines (``module:attribute``).

    Raises ``ConsumerNotFound``.
    """
    from taskhook.consumers import registry

    if ":" in reference and os.getcwd() not in sys.path:
        # As `python -m` would: a consumer module beside you can be named without installing it.
        sys.path.insert(0, os.getcwd())
    return registry.find(reference)
