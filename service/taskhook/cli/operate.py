"""The operator tools: ``send``, ``tail``, ``inspect``, ``replay``, ``topology`` and ``retire``."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskhook import bootstrap
from taskhook.cli.options import EXIT_USAGE, http_url, positive_float, positive_int
from taskhook.core.events import TASK_EVENTS
from taskhook.settings import CommonSettings, ConsumerSettings, SenderSettings
from taskhook.tools.event_samples import SAMPLE_EVENTS
from taskhook.tools.samples import SAMPLE_TYPES

if TYPE_CHECKING:
    from taskhook.broker.topology import ConsumerTopology

# Where `taskhook serve` on this machine listens: the port is TASKHOOK_PORT, as it reads it.
LOCAL_URL = "http://127.0.0.1:{port}/webhooks/livepeer"
DEFAULT_INSPECT_LIMIT = 100


def add_commands(commands: Any) -> None:
    _add_send(commands)
    tail = commands.add_parser("tail", help="bind a temporary queue and print what is published")
    tail.add_argument("patterns", nargs="*", default=["#"], help="binding keys (default: #)")
    tail.add_argument("--exchange", help="default: TASKHOOK_EXCHANGE, else livepeer.tasks")
    tail.set_defaults(run=run_tail, tool=True)
    _add_held(commands)
    topology = commands.add_parser(
        "topology", help="declare the exchanges, queues and bindings (idempotent) and print them"
    )
    topology.add_argument(
        "consumers",
        nargs="*",
        help="consumers, by name or module:attribute, whose queues to include (default: all)",
    )
    topology.set_defaults(run=run_topology, tool=True)
    _add_retire(commands)


def _add_retire(commands: Any) -> None:
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
        "--dry-run", action="store_true", help="say what would be removed; remove nothing"
    )
    retire.set_defaults(run=run_retire, tool=True)


def _add_send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="sign deliveries as Livepeer does and POST them",
        description="Without FILE, a made-up task of --type: one --event, or with --count N "
        "its whole life in N deliveries (spawned, running updates, then --event if final, "
        "else completed). An --event of another family makes up an asset's or a stream's "
        "events the same way (asset.created, asset.updated..., asset.ready; stream.started, "
        "stream.detection..., stream.idle; ...); playback.accessControl makes up the playback "
        "gate request taskhook refuses. A FILE is sent as it is, --count times, with a fresh "
        "timestamp.",
    )
    send.add_argument("file", nargs="?", type=Path, help="a delivery to send, as JSON")
    send.add_argument(
        "--event",
        choices=(*TASK_EVENTS, *SAMPLE_EVENTS),
        default="task.completed",
        metavar="EVENT",
        help="the event to make up, or the last of a --count life: any event Livepeer sends "
        "(default: task.completed)",
    )
    send.add_argument(
        "--legacy",
        action="store_true",
        help="asset.ready and asset.failed in the older shape Studio sends to webhooks created "
        "before 2024-07-28",
    )
    send.add_argument("--type", choices=SAMPLE_TYPES, default="upload", help="the task's type")
    send.add_argument("--count", type=positive_int, default=1, help="deliveries (default: 1)")
    send.add_argument(
        "--rate", type=positive_float, help="deliveries a second (default: one after another)"
    )
    send.add_argument(
        "--url",
        type=http_url,
        help=f"where to POST (default: {LOCAL_URL.format(port='$TASKHOOK_PORT')}, port 8080 "
        "when unset)",
    )
    send.add_argument(
        "--secret", help="default: the first TASKHOOK_WEBHOOK_SECRETS, or the dev one"
    )
    send.set_defaults(run=run_send)


def _add_held(commands: Any) -> None:
    queue_help = (
        "livepeer.tasks.rejected, livepeer.tasks.unrouted or a consumer's taskhook.<name>.dead "
        "(taskhook.<exchange>.<name>.dead off the default exchange)"
    )
    inspect = commands.add_parser(
        "inspect", help="list the messages a held-back queue holds, removing nothing"
    )
    inspect.add_argument("queue", help=queue_help)
    inspect.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_INSPECT_LIMIT,
        help=f"at most this many, from the oldest (default: {DEFAULT_INSPECT_LIMIT})",
    )
    inspect.add_argument("--json", action="store_true", help="the whole messages, one per line")
    inspect.set_defaults(run=run_held, tool=True)
    replay = commands.add_parser(
        "replay", help="publish held-back messages again, removing each once confirmed"
    )
    replay.add_argument("queue", help=queue_help)
    replay.add_argument("--limit", type=positive_int, help="at most this many, from the oldest")
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would happen; move nothing"
    )
    replay.set_defaults(run=run_held, tool=True)


def run_send(args: argparse.Namespace) -> int:
    import orjson
    import uvloop

    from taskhook.tools import send

    if args.file is None and args.event in TASK_EVENTS:
        documents = send.sample_life(args.type, args.event, args.count)
    elif args.file is None:
        documents = send.sample_events(args.event, args.count, legacy=args.legacy)
    else:
        try:
            document = orjson.loads(args.file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            print(f"taskhook send: cannot read {args.file}: {e}", file=sys.stderr)
            return EXIT_USAGE
        if not isinstance(document, dict):
            print(f"taskhook send: {args.file} is not a JSON object", file=sys.stderr)
            return EXIT_USAGE
        documents = send.repeated(document, args.count)
    settings = bootstrap.load_settings(SenderSettings)
    url = args.url or LOCAL_URL.format(port=settings.port)
    secret = args.secret or settings.signing_secret
    return uvloop.run(send.send(documents, url=url, secret=secret, rate=args.rate))


def run_tail(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.tools.tail import tail

    settings = bootstrap.load_settings(CommonSettings)
    exchange = args.exchange or settings.exchange
    return uvloop.run(tail(settings.amqp_url.get_secret_value(), exchange, args.patterns))


def run_held(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.tools import held

    settings = bootstrap.load_settings(CommonSettings)
    topology = bootstrap.topology(settings)
    queue = topology.held_queue(args.queue)
    if queue is None:
        print(
            f"taskhook {args.command}: {args.queue!r} is not a queue that holds messages back: "
            f"name {topology.rejected_queue}, {topology.unrouted_queue} or a consumer's "
            f"{topology.consumer_prefix}.<name>.dead",
            file=sys.stderr,
        )
        return EXIT_USAGE
    url = settings.amqp_url.get_secret_value()
    if args.command == "inspect":
        return uvloop.run(held.inspect(url, queue, limit=args.limit, as_json_lines=args.json))
    replaying = held.replay(
        url,
        topology,
        queue,
        limit=args.limit,
        dry_run=args.dry_run,
        redaction=bootstrap.redaction(settings),
    )
    return uvloop.run(replaying)


def run_topology(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.cli.consume import find_consumer
    from taskhook.consumers import registry
    from taskhook.tools.provision import provision

    settings = bootstrap.load_settings(ConsumerSettings)
    try:
        consumers = [find_consumer(name) for name in args.consumers] or list(
            registry.registered().values()
        )
    except registry.ConsumerNotFound as e:
        print(f"taskhook topology: {e}", file=sys.stderr)
        return EXIT_USAGE
    declared = bootstrap.declarations(settings, consumers)
    print("\n".join(uvloop.run(provision(settings.amqp_url.get_secret_value(), declared))))
    return 0


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
    return uvloop.run(retire(url, topology, force=args.force, dry_run=args.dry_run))


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
