"""``taskhook retire``: removing what a retired consumer declared, or its stale retry queues."""

import argparse
import sys
from typing import TYPE_CHECKING, Any

from taskhook import bootstrap
from taskhook.cli.options import EXIT_USAGE, delays_s
from taskhook.settings import DEFAULT_RETRY_DELAYS_S, ConsumerSettings

if TYPE_CHECKING:
    from taskhook.broker.topology import ConsumerTopology


def add_commands(commands: Any) -> None:
    retire = commands.add_parser(
        "retire",
        help="remove a retired consumer's queues and bindings",
        description="Unbind the consumer's queue from the events exchange and delete its queue, "
        "its retry queues (one per TASKHOOK_CONSUMER_RETRY_DELAYS_S delay) and its dead queue. "
        "Refused while any of them holds messages or is consumed, unless --force.",
    )
    retire.add_argument(
        "consumer", help="its name (registered or not any more) or module:attribute"
    )
    retire.add_argument(
        "--force",
        action="store_true",
        help="remove them even if they hold messages or are consumed: those messages are lost",
    )
    retire.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be removed and what is in use, even while it runs; remove nothing",
    )
    retire.add_argument(
        "--former-delays",
        type=delays_s,
        default=(),
        metavar="S,S,...",
        help="retry delays it ran with before (a former TASKHOOK_CONSUMER_RETRY_DELAYS_S): their "
        "retry queues are looked for too, as are the default delays'",
    )
    retire.add_argument(
        "--stale-retries",
        action="store_true",
        help="remove only the retry queues of delays no longer configured; the consumer stays",
    )
    retire.set_defaults(run=run_retire, tool=True)


def run_retire(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.tools.retire import retire

    settings = bootstrap.load_settings(ConsumerSettings)
    try:
        topology = _retired_topology(args.consumer, settings)
    except ValueError as e:
        print(f"taskhook retire: {e}", file=sys.stderr)
        return EXIT_USAGE
    url = settings.amqp_url.get_secret_value()
    former = {round(s * 1000) for s in (*DEFAULT_RETRY_DELAYS_S, *args.former_delays)}
    retiring = retire(
        url,
        topology,
        force=args.force,
        dry_run=args.dry_run,
        former_delays_ms=former,
        stale_only=args.stale_retries,
    )
    return uvloop.run(retiring)


def _retired_topology(reference: str, settings: ConsumerSettings) -> "ConsumerTopology":
    """The queues of the consumer ``reference`` names: a registered one or ``module:attribute``
    with its bindings, or a bare name whose code is gone (deleting its queues takes their
    bindings with them).

    Raises ``ValueError`` for a name no consumer can have, or a reference not found.
    """
    from taskhook.broker.topology import ConsumerTopology
    from taskhook.cli.consume import find_consumer
    from taskhook.consumers import registry

    if ":" not in reference and reference not in registry.registered():
        return ConsumerTopology(
            bootstrap.topology(settings), reference, (), settings.retry_delays_ms
        )
    try:
        return bootstrap.consumer_topology(find_consumer(reference), settings)
    except registry.ConsumerNotFound as e:
        raise ValueError(str(e)) from None
