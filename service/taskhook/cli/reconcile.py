"""``taskhook reconcile``: recover what Livepeer's webhooks never delivered (docs/reconcile.md)."""

import argparse
import re
from typing import Any

from taskhook import bootstrap
from taskhook.settings import ReconcileSettings

DEFAULT_SINCE = "48h"
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def add_commands(commands: Any) -> None:
    reconcile = commands.add_parser(
        "reconcile",
        help="publish what Livepeer's webhooks never delivered, read from Studio's API",
        description="Reads TASKHOOK_STUDIO_API_KEY (a backend key of the webhook's project) and "
        "TASKHOOK_STUDIO_URL. With none of --deliveries, --tasks and --assets, does all three. "
        "Exits 0 only when everything it set out to publish was confirmed by the broker.",
    )
    reconcile.add_argument(
        "--deliveries",
        action="store_true",
        help="publish the events Studio's delivery logs show were never delivered",
    )
    reconcile.add_argument(
        "--tasks",
        action="store_true",
        help="publish every task that changed in the window in its current state",
    )
    reconcile.add_argument(
        "--assets",
        action="store_true",
        help="publish every asset that changed in the window in its current state",
    )
    reconcile.add_argument(
        "--since",
        type=duration_ms,
        default=DEFAULT_SINCE,
        metavar="DURATION",
        help="the window: events lost and tasks and assets changed since then, like 90m, 48h or 7d "
        f"(default: {DEFAULT_SINCE})",
    )
    reconcile.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="ID",
        help="only this webhook's deliveries (repeatable; default: the project's webhooks whose "
        "URL ends in /webhooks/livepeer)",
    )
    reconcile.add_argument(
        "--resend",
        action="store_true",
        help="ask Studio to resend each lost delivery instead of publishing its stored body",
    )
    reconcile.add_argument(
        "--dry-run", action="store_true", help="list what would be published; publish nothing"
    )
    reconcile.set_defaults(run=run_reconcile, tool=True)


def duration_ms(text: str) -> int:
    """``90m`` -> 5,400,000: a number and one of s, m, h, d."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError("must be a number and a unit, like 90m, 48h or 7d")
    return int(match[1]) * _UNITS_S[match[2]] * 1000


def run_reconcile(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.application.reconcile import Plan
    from taskhook.clock import now_ms
    from taskhook.tools.reconcile import reconcile

    settings = bootstrap.load_settings(ReconcileSettings)
    every = not args.deliveries and not args.tasks and not args.assets
    plan = Plan(
        since_ms=now_ms() - args.since,
        deliveries=args.deliveries or every,
        tasks=args.tasks or every,
        assets=args.assets or every,
        webhooks=tuple(args.webhook),
        resend=args.resend,
        dry_run=args.dry_run,
    )
    return uvloop.run(
        reconcile(
            plan,
            studio_url=settings.studio_url,
            api_key=settings.studio_api_key.get_secret_value(),
            amqp_url=settings.amqp_url.get_secret_value(),
            topology=bootstrap.topology(settings),
            publish_timeout_s=settings.publish_timeout_s,
            redaction=bootstrap.redaction(settings),
        )
    )
