"""The operator tools: ``send``, ``tail``, and ``topology`` (the held-back queues' commands are in
``cli.held``, ``retire`` in ``cli.retire``)."""

import argparse
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskhook import bootstrap
from taskhook.cli import held
from taskhook.cli import retire as retiring
from taskhook.cli.options import EXIT_USAGE, http_url, positive_float, positive_int
from taskhook.core.events import TASK_EVENTS
from taskhook.settings import (
    CommonSettings,
    ConsumerSettings,
    SenderSettings,
)
from taskhook.tools.samples import SAMPLE_TYPES

if TYPE_CHECKING:
    pass

# Where `taskhook serve` on this machine listens: the port is TASKHOOK_PORT, as it reads it.
LOCAL_URL = "http://127.0.0.1:{port}/webhooks/livepeer"


def add_commands(commands: Any) -> None:
    _add_send(commands)
    tail = commands.add_parser("tail", help="bind a temporary queue and print what is published")
    tail.add_argument("patterns", nargs="*", default=["#"], help="binding keys (default: #)")
    tail.add_argument("--exchange", help="default: TASKHOOK_EXCHANGE, else livepeer.tasks")
    tail.set_defaults(run=run_tail, tool=True)
    held.add_commands(commands)
    topology = commands.add_parser(
        "topology", help="declare the exchanges, queues and bindings (idempotent) and print them"
    )
    topology.add_argument(
        "consumers",
        nargs="*",
        help="consumers, by name or module:attribute, whose queues to include (default: all)",
    )
    topology.set_defaults(run=run_topology, tool=True)
    retiring.add_commands(commands)


def _add_send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="sign deliveries as Livepeer does and POST them",
        description="Without FILE, a made-up task of --type: one --event, or with --count N "
        "its whole life in N deliveries (spawned, running updates, then --event if final, "
        "else completed). A FILE is sent as it is, --count times, with a fresh timestamp.",
    )
    send.add_argument("file", nargs="?", type=Path, help="a delivery to send, as JSON")
    send.add_argument(
        "--event",
        choices=TASK_EVENTS,
        default="task.completed",
        help="the event to make up, or the last of a --count life (default: task.completed)",
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
    send.add_argument(
        "--set",
        metavar="PATH=VALUE",
        action="append",
        default=[],
        help="change a field of each delivery before signing it: a dotted path "
        "(payload.task.snapshot.outputAssetId=null), the value JSON or else a string; repeatable",
    )
    send.add_argument(
        "--unset", metavar="PATH", action="append", default=[], help="remove a field; repeatable"
    )
    send.set_defaults(run=run_send)


def run_send(args: argparse.Namespace) -> int:
    import orjson
    import uvloop

    from taskhook.tools import send
    from taskhook.tools.variations import Variation, varied

    if args.file is None:
        documents = send.sample_life(args.type, args.event, args.count)
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
    try:
        variations = [Variation.setting(text) for text in args.set]
        variations += [Variation.removal(path) for path in args.unset]
        documents = _checked(varied(documents, variations))
    except ValueError as e:
        print(f"taskhook send: {e}", file=sys.stderr)
        return EXIT_USAGE
    settings = bootstrap.load_settings(SenderSettings)
    url = args.url or LOCAL_URL.format(port=settings.port)
    secret = args.secret or settings.signing_secret
    hint = None if args.url else "set TASKHOOK_PORT as `taskhook serve` has it, or pass --url"
    return uvloop.run(send.send(documents, url=url, secret=secret, rate=args.rate, hint=hint))


def _checked(documents: "Iterator[dict[str, Any]]") -> "Iterator[dict[str, Any]]":
    """The documents, the first one varied already, so that a path it lacks is a usage error
    before anything is sent (the rest share its shape)."""
    first = next(documents, None)
    return documents if first is None else itertools.chain([first], documents)


def run_tail(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.tools.tail import tail

    settings = bootstrap.load_settings(CommonSettings)
    exchange = args.exchange or settings.exchange
    return uvloop.run(tail(settings.amqp_url.get_secret_value(), exchange, args.patterns))


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
