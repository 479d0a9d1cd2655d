"""``taskhook reconcile``: recover what Livepeer's webhooks never delivered, free of HTTP and AMQP.

Three jobs (docs/reconcile.md). Deliveries: the events Studio's delivery logs show Livepeer gave
up on within the window, of every family, are published from their stored bodies, through the
ingest's own path. Tasks and assets: every task and asset that changed in the window is
published in its current state, under an id derived from that state, unless the logs show that
state was delivered (or this run recovered it).

The run goes on past one failed webhook or event and counts it as an error; it stops at once
when Studio refuses the key (nothing else could work) or the broker fails a publish.
"""

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from taskhook.application.dedup import Outcome
from taskhook.application.ingest import Receipt
from taskhook.core.delivery import WEBHOOK_PATH, summarize_problems
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, PublishFailed
from taskhook.core.message import OutgoingMessage, routing_key
from taskhook.core.recovery import (
    FROM_ASSET_LIST,
    FROM_DELIVERY_LOG,
    FROM_TASK_LIST,
    EventHistory,
    Ledger,
    StudioFailed,
    TaskState,
    UnreadableLog,
    Verdict,
    attempt_from_log,
)
from taskhook.core.resync import asset_resync_delivery, asset_state, resync_delivery, task_state

# Progress on stderr at most this often: enough to see a long run move, not a line per page.
PROGRESS_EVERY_S = 2.0
# Logs are read from this long before the window: an event Livepeer gave up on inside the
# window has an attempt there (its retries are at most an hour apart, the last ends ~24.4 h
# after it fired, and it counts as lost at 25 h).
LOG_LOOKBACK_MS = 2 * 3600 * 1000


class Studio(Protocol):
    """What reconciling reads from Livepeer Studio (``taskhook.studio.client.StudioClient``).

    Every method raises ``StudioRefused`` when the key is refused, ``StudioFailed`` when a call
    failed for good (after retrying what was worth retrying).
    """

    async def webhooks(self) -> list[Mapping[str, Any]]: ...

    async def webhook(self, webhook_id: str) -> Mapping[str, Any]: ...

    def delivery_logs(self, webhook_id: str, since_ms: int) -> AsyncIterator[Mapping[str, Any]]: ...

    def tasks(self, since_ms: int) -> AsyncIterator[Mapping[str, Any]]: ...

    def assets(self, since_ms: int) -> AsyncIterator[Mapping[str, Any]]: ...

    async def resend(self, webhook_id: str, log_id: str) -> Mapping[str, Any]: ...


class Admits(Protocol):
    """The ingest's path for deliveries proven by other means (``Ingest.admit``)."""

    async def admit(self, body: bytes, *, origin: str) -> Receipt: ...


class NoPublisher:
    """Publishes nothing and reports success: ``--dry-run`` runs the real path up to the broker."""

    ready = True
    blocked = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish_event(self, message: OutgoingMessage) -> None:
        return None

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run does. ``since_ms`` starts the window: events Livepeer gave up on, and tasks
    and assets that changed, since then. ``webhooks`` empty means the project's webhooks that
    point at a taskhook (their URL's path is taskhook's webhook path)."""

    since_ms: int
    deliveries: bool = True
    tasks: bool = True
    assets: bool = True
    webhooks: tuple[str, ...] = ()
    resend: bool = False
    dry_run: bool = False


@dataclass(slots=True)
class Summary:
    """What a run found and did. ``recovered``, ``resent`` and ``resynced`` count what the
    broker confirmed (or, in a dry run, what would have been published)."""

    examined: int = 0  # events found in the delivery logs
    delivered: int = 0  # of those, answered 2xx at some attempt: already in the broker
    retrying: int = 0  # still being retried by Livepeer: left alone
    earlier: int = 0  # lost before the window: the run whose window held it dealt with it
    recovered: int = 0  # lost, published from the stored body
    resent: int = 0  # lost, resent by Studio on request, and the resend succeeded
    invalid: int = 0  # lost, failed validation, kept in the rejected queue with the reason
    resynced: int = 0  # tasks published in their current state
    current: int = 0  # tasks whose current state was delivered, or recovered by this run
    assets_resynced: int = 0  # assets published in their current state
    assets_current: int = 0  # assets whose current state was delivered, or recovered
    errors: int = 0  # could not be done; each was reported

    def line(self) -> str:
        """``examined=12 delivered=9 ...``: one line that log searches can take apart."""
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the run did (or would do) to one event or task, for the operator."""

    what: str  # recovered, resent, kept-invalid, resynced, error; "would-" in a dry run
    subject: str  # the event or task id, or the webhook for an error reading its logs
    detail: str  # the routing key and why, or the reason


class Reconciler:
    """Runs a ``Plan`` against ``studio``, publishing through ``ingest``."""

    def __init__(
        self,
        studio: Studio,
        ingest: Admits,
        *,
        report: Callable[[Action], None],
        progress: Callable[[str], None],
        clock_ms: Callable[[], int],
    ) -> None:
        self._studio = studio
        self._ingest = ingest
        self._report = report
        self._progress = progress
        self._clock_ms = clock_ms
        self._last_progress = 0.0
        # Task and asset states the logs show delivered, or this run published: not re-synced.
        self._known: set[TaskState] = set()
        self._known_assets: set[TaskState] = set()

    async def run(self, plan: Plan, summary: Summary) -> None:
        """Count into ``summary`` as it goes, so it tells how far a run that stopped got.

        Raises ``StudioRefused`` or ``PublishFailed``; any other failure is counted.
        """
        if plan.deliveries:
            for webhook_id in await self._webhooks(plan, summary):
                await self._deliveries(plan, webhook_id, summary)
        if plan.tasks:
            await self._tasks(plan, summary)
        if plan.assets:
            await self._assets(plan, summary)

    async def _webhooks(self, plan: Plan, summary: Summary) -> list[str]:
        """The webhooks named, each checked to be the project's; else those pointing at a
        taskhook, since a project's other webhooks may feed other receivers."""
        if plan.webhooks:
            found = []
            for webhook_id in plan.webhooks:
                try:
                    await self._studio.webhook(webhook_id)
                    found.append(webhook_id)
                except StudioFailed as e:
                    self._error(summary, f"webhook {webhook_id}", str(e))
            return found
        try:
            webhooks = await self._studio.webhooks()
        except StudioFailed as e:
            self._error(summary, "webhooks", str(e))
            return []
        ours = [str(w["id"]) for w in webhooks if _points_at_taskhook(w) and w.get("id")]
        if not ours:
            why = f"none of the project's webhooks has a URL ending in {WEBHOOK_PATH}"
            self._error(summary, "webhooks", why)
        return ours

    async def _deliveries(self, plan: Plan, webhook_id: str, summary: Summary) -> None:
        ledger = await self._read_logs(plan, webhook_id, summary)
        now = self._clock_ms()
        for history in ledger.histories():
            summary.examined += 1
            verdict = history.verdict(now)
            if verdict is Verdict.DELIVERED:
                summary.delivered += 1
                self._remember(history)
            elif verdict is Verdict.RETRYING:
                summary.retrying += 1
            elif history.lost_at_ms() < plan.since_ms:
                summary.earlier += 1
            elif plan.resend:
                await self._resend(plan, history, summary)
            else:
                await self._recover(plan, history, summary)

    async def _read_logs(self, plan: Plan, webhook_id: str, summary: Summary) -> Ledger:
        ledger, read = Ledger(), 0
        try:
            since = plan.since_ms - LOG_LOOKBACK_MS
            async for record in self._studio.delivery_logs(webhook_id, since):
                read += 1
                self._tick(f"webhook {webhook_id}: {read} delivery attempts read")
                try:
                    ledger.add(attempt_from_log(record, webhook_id))
                except UnreadableLog as e:
                    self._error(summary, f"webhook {webhook_id}", str(e))
        except StudioFailed as e:
            # What was read is still judged: an event is lost whatever page it was on.
            self._error(summary, f"webhook {webhook_id}", str(e))
        return ledger

    async def _recover(self, plan: Plan, history: EventHistory, summary: Summary) -> None:
        body = history.latest.body.encode()
        why = history.why_lost()
        if await self._admit(plan, history.key, body, FROM_DELIVERY_LOG, why, summary):
            summary.recovered += 1
            self._remember(history)

    async def _resend(self, plan: Plan, history: EventHistory, summary: Summary) -> None:
        subject, why = history.key, history.why_lost()
        if plan.dry_run:
            self._say(plan, "resent", subject, f"log {history.latest.log_id} ({why})")
            summary.resent += 1
            return
        try:
            record = await self._studio.resend(history.webhook_id, history.latest.log_id)
        except StudioFailed as e:
            self._error(summary, subject, str(e))
            return
        if record.get("success") is True:
            self._say(plan, "resent", subject, f"log {history.latest.log_id} ({why})")
            summary.resent += 1
            self._remember(history)
        else:
            response = record.get("response")
            status = response.get("status") if isinstance(response, dict) else None
            status = status or "no answer"
            self._error(summary, subject, f"Studio resent it and the receiver answered {status}")

    async def _tasks(self, plan: Plan, summary: Summary) -> None:
        seen = 0
        try:
            async for task in self._studio.tasks(plan.since_ms):
                seen += 1
                self._tick(f"tasks: {seen} read")
                state = task_state(task)
                if state is not None and state in self._known:
                    summary.current += 1
                    continue
                body = resync_delivery(task, self._clock_ms())
                subject = str(task.get("id"))
                if await self._admit(plan, subject, body, FROM_TASK_LIST, "current state", summary):
                    summary.resynced += 1
        except StudioFailed as e:
            self._error(summary, "tasks", str(e))

    async def _assets(self, plan: Plan, summary: Summary) -> None:
        seen = 0
        try:
            async for asset in self._studio.assets(plan.since_ms):
                seen += 1
                self._tick(f"assets: {seen} read")
                state = asset_state(asset)
                if state is not None and state in self._known_assets:
                    summary.assets_current += 1
                    continue
                body = asset_resync_delivery(asset, self._clock_ms())
                subject = str(asset.get("id"))
                why = "current state"
                if await self._admit(plan, subject, body, FROM_ASSET_LIST, why, summary):
                    summary.assets_resynced += 1
        except StudioFailed as e:
            self._error(summary, "assets", str(e))

    async def _admit(
        self, plan: Plan, subject: str, body: bytes, origin: str, why: str, summary: Summary
    ) -> bool:
        """True when published (or, in a dry run, publishable) as new."""
        try:
            receipt = await self._ingest.admit(body, origin=origin)
        except (BodyNotJson, DeliveryInvalid) as refusal:
            reason = refusal.detail
            if isinstance(refusal, DeliveryInvalid):
                reason = summarize_problems(refusal.problems)
            self._say(plan, "kept-invalid", subject, f"rejected queue ({why}): {reason}")
            summary.invalid += 1
            return False
        except PublishFailed:
            summary.errors += 1
            raise
        if receipt.outcome is Outcome.DUPLICATE:  # read twice in this run: published once
            return False
        verb = "recovered" if origin == FROM_DELIVERY_LOG else "resynced"
        delivery = receipt.delivery
        task = delivery.task
        key = routing_key(delivery.envelope.event, task.type if task else None)
        self._say(plan, verb, subject, f"{key} ({why})")
        return True

    def _remember(self, history: EventHistory) -> None:
        if history.latest.task_state is not None:
            self._known.add(history.latest.task_state)
        if history.latest.asset_state is not None:
            self._known_assets.add(history.latest.asset_state)

    def _say(self, plan: Plan, what: str, subject: str, detail: str) -> None:
        self._report(Action(f"would-{what}" if plan.dry_run else what, subject, detail))

    def _error(self, summary: Summary, subject: str, reason: str) -> None:
        summary.errors += 1
        self._report(Action("error", subject, reason))

    def _tick(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = now
            self._progress(text)


def _points_at_taskhook(webhook: Mapping[str, Any]) -> bool:
    url = webhook.get("url")
    return isinstance(url, str) and url.split("?")[0].rstrip("/").endswith(WEBHOOK_PATH)
