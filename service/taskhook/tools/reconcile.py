"""``taskhook reconcile``: the Studio client, the broker and the reconciler, wired for one run.

What it does and why is docs/reconcile.md. Standard output gets one line per event or task acted
on and the summary last; standard error gets progress and the reason a run ended early.
"""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from taskhook.application.dedup import PublishOnce
from taskhook.application.ingest import Ingest, Publisher
from taskhook.application.reconcile import Action, NoPublisher, Plan, Reconciler, Summary
from taskhook.broker.declare import declare_on
from taskhook.broker.publisher import ConnectionPublisher
from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from taskhook.core.errors import PublishFailed
from taskhook.core.recovery import StudioRefused
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.studio.client import StudioClient
from taskhook.tools.broker import ToolFailed, publishing

# Far more than one run meets: the same event in two pages, or a task seen twice.
DEDUP_CAPACITY = 1_000_000


async def reconcile(
    plan: Plan,
    *,
    studio_url: str,
    api_key: str,
    amqp_url: str,
    topology: Topology,
    publish_timeout_s: float,
    redaction: Redaction = DEFAULT_REDACTION,
) -> int:
    """Run ``plan``; 0 only when everything it set out to publish was confirmed by the broker."""
    async with (
        aiohttp.ClientSession() as session,
        _publisher(plan, amqp_url, topology, publish_timeout_s) as publisher,
    ):
        ingest = Ingest(
            publisher,
            # Unused: admit() takes no signature, the API call with the key was the proof.
            secrets=(),
            tolerance_ms=0,
            rejected_queue=topology.rejected_queue,
            redaction=redaction,
            publish_once=PublishOnce(DEDUP_CAPACITY),
        )
        reconciler = Reconciler(
            StudioClient(session, studio_url, api_key),
            ingest,
            report=_print_action,
            progress=_print_progress,
            clock_ms=now_ms,
        )
        summary = Summary()
        try:
            await reconciler.run(plan, summary)
        except StudioRefused as e:
            raise ToolFailed(str(e)) from None
        except PublishFailed as e:
            _print_summary(plan, summary)
            raise ToolFailed(f"stopped: {e.detail}; what was confirmed before stays") from None
    _print_summary(plan, summary)
    return 0 if summary.errors == 0 else 1


@asynccontextmanager
async def _publisher(
    plan: Plan, amqp_url: str, topology: Topology, timeout_s: float
) -> AsyncIterator[Publisher]:
    if plan.dry_run or (
        plan.resend and not plan.tasks and not plan.assets
    ):  # nothing to publish ourselves
        yield NoPublisher()
        return
    async with publishing(amqp_url, timeout_s=timeout_s) as connection:
        await declare_on(connection, topology.declarations())
        yield ConnectionPublisher(connection, topology)


def _print_action(action: Action) -> None:
    print(f"{action.what:<18} {action.subject}  {action.detail}", flush=True)


def _print_progress(text: str) -> None:
    print(f"reconcile: {text}", file=sys.stderr, flush=True)


def _print_summary(plan: Plan, summary: Summary) -> None:
    prefix = "dry run, nothing published: " if plan.dry_run else ""
    print(f"{prefix}{summary.line()}", flush=True)
