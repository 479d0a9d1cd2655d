"""The reconciler's rules with Studio in memory and a recording publisher: the window, which
webhooks, what a failed call or record costs, and which task states are published again. That
the real command keeps these promises on the real broker is tests/integration/test_reconcile.py.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from taskhook.application.dedup import PublishOnce
from taskhook.application.ingest import Ingest
from taskhook.application.reconcile import Action, Plan, Reconciler, Summary
from taskhook.core.errors import PublishFailed
from taskhook.core.recovery import RETRY_HORIZON_MS, StudioFailed
from taskhook.tools.samples import SampleTask, Step, delivery
from tests.unit.test_ingest import REJECTED, FakePublisher

NOW = 1_800_000_000_000
HOUR = 3_600_000
OURS = {"id": "wh-1", "url": "https://hooks.example/webhooks/livepeer"}
OTHER = {"id": "wh-2", "url": "https://other.example/hooks"}

Row = Mapping[str, Any]


class MemoryStudio:
    """A ``Studio`` of plain lists; ``fail_after`` rows of a list, that list fails."""

    def __init__(
        self,
        webhooks: list[Row],
        logs: list[Row],
        tasks: list[Row],
        assets: list[Row] | None = None,
    ) -> None:
        self.hooks, self.logs, self.task_rows = webhooks, logs, tasks
        self.asset_rows = assets or []
        self.fail_after: int | None = None
        self.resent: Row = {}

    async def webhooks(self) -> list[Row]:
        return self.hooks

    async def webhook(self, webhook_id: str) -> Row:
        for hook in self.hooks:
            if hook["id"] == webhook_id:
                return hook
        raise StudioFailed(f"webhook {webhook_id} is not one of this key's project")

    async def delivery_logs(self, webhook_id: str, since_ms: int) -> AsyncIterator[Row]:
        for number, row in enumerate(r for r in self.logs if r.get("createdAt", NOW) >= since_ms):
            if number == self.fail_after:
                raise StudioFailed("Studio answered 500")
            yield row

    async def tasks(self, since_ms: int) -> AsyncIterator[Row]:
        for row in self.task_rows:
            if row["status"]["updatedAt"] >= since_ms:
                yield row

    async def assets(self, since_ms: int) -> AsyncIterator[Row]:
        for row in self.asset_rows:
            if row["status"]["updatedAt"] >= since_ms:
                yield row

    async def resend(self, webhook_id: str, log_id: str) -> Row:
        return self.resent


def a_delivery(task_id: str, event: str, at_ms: int) -> dict[str, Any]:
    task = SampleTask(task_id, "upload", OURS["id"], at_ms - HOUR)
    return delivery(task, Step(event), event_id=f"{task_id}-{event}", at_ms=at_ms)  # type: ignore[arg-type]


def attempt(document: dict[str, Any], at_ms: int, status: int | None, number: int = 0) -> Row:
    response: dict[str, Any] = {"body": ""} if status is None else {"body": "", "status": status}
    return {
        "id": f"{document['id']}-{number}",
        "createdAt": at_ms,
        "success": status is not None and 200 <= status < 300,
        "response": response,
        "request": {"body": orjson.dumps({**document, "timestamp": at_ms}).decode()},
    }


async def reconcile(
    studio: MemoryStudio, plan: Plan, publisher: FakePublisher | None = None
) -> tuple[Summary, list[Action], FakePublisher]:
    publisher = publisher or FakePublisher()
    ingest = Ingest(
        publisher,
        secrets=(),
        tolerance_ms=0,
        rejected_queue=REJECTED,
        publish_once=PublishOnce(1000),
    )
    actions: list[Action] = []
    reconciler = Reconciler(
        studio, ingest, report=actions.append, progress=lambda _: None, clock_ms=lambda: NOW
    )
    summary = Summary()
    await reconciler.run(plan, summary)
    return summary, actions, publisher


async def test_only_events_lost_inside_the_window_are_published() -> None:
    recent = a_delivery("t-1", "task.completed", NOW - HOUR)
    earlier = a_delivery("t-2", "task.completed", NOW - 3 * HOUR)  # seen: logs are read from 4 h
    exhausted = a_delivery("t-3", "task.completed", NOW - RETRY_HORIZON_MS - 10 * 60_000)
    logs = [
        attempt(earlier, NOW - 3 * HOUR, 401),
        attempt(exhausted, NOW - RETRY_HORIZON_MS, None),
        attempt(exhausted, NOW - 2 * HOUR + 60_000, 503, 1),  # its last retry, before the window
        attempt(recent, NOW - HOUR, 404),
    ]
    studio = MemoryStudio([OURS], logs, [])
    summary, _, published = await reconcile(studio, Plan(since_ms=NOW - 2 * HOUR, tasks=False))
    assert (summary.examined, summary.earlier, summary.recovered) == (3, 1, 2)
    assert sorted(m.message_id for m in published.events) == [
        "t-1-task.completed",
        "t-3-task.completed",
    ]


async def test_a_list_that_fails_midway_is_an_error_and_what_was_read_is_still_recovered() -> None:
    lost = a_delivery("t-1", "task.failed", NOW - HOUR)
    studio = MemoryStudio([OURS], [attempt(lost, NOW - HOUR, 401), {"id": "broken"}], [])
    studio.logs.append(attempt(a_delivery("t-2", "task.failed", NOW - HOUR), NOW - HOUR, 401))
    studio.fail_after = 2
    summary, actions, published = await reconcile(studio, Plan(since_ms=NOW - 2 * HOUR))
    assert summary.errors == 2  # the unreadable record, then the failed page
    assert [a.detail for a in actions if a.what == "error"] == [
        "log record without createdAt, request.body",
        "Studio answered 500",
    ]
    assert [m.message_id for m in published.events][:1] == ["t-1-task.failed"]


async def test_a_failed_publish_ends_the_run_with_the_summary_so_far() -> None:
    lost = [a_delivery(f"t-{n}", "task.failed", NOW - HOUR) for n in range(3)]
    studio = MemoryStudio([OURS], [attempt(d, NOW - HOUR, 401) for d in lost], [])
    summary = Summary()
    ingest = Ingest(
        FakePublisher(events_fail=True),
        secrets=(),
        tolerance_ms=0,
        rejected_queue=REJECTED,
        publish_once=PublishOnce(10),
    )
    reconciler = Reconciler(
        studio, ingest, report=lambda _: None, progress=lambda _: None, clock_ms=lambda: NOW
    )
    with pytest.raises(PublishFailed):
        await reconciler.run(Plan(since_ms=NOW - 2 * HOUR), summary)
    assert (summary.examined, summary.recovered, summary.errors) == (1, 0, 1)  # the first


async def test_a_task_state_the_logs_show_delivered_or_recovered_is_not_published_again() -> None:
    delivered = a_delivery("t-1", "task.completed", NOW - HOUR)
    lost = a_delivery("t-2", "task.failed", NOW - HOUR)
    moved_on = a_delivery("t-3", "task.updated", NOW - HOUR)  # delivered, then changed again
    logs = [
        attempt(delivered, NOW - HOUR, 202),
        attempt(lost, NOW - HOUR, 401),
        attempt(moved_on, NOW - HOUR, 202),
    ]
    later = a_delivery("t-3", "task.completed", NOW - 30 * 60_000)
    silent = a_delivery("t-4", "task.completed", NOW - HOUR)
    tasks = [d["payload"]["task"]["snapshot"] for d in (delivered, lost, later, silent)]
    studio = MemoryStudio([OURS], logs, tasks)
    summary, actions, _ = await reconcile(studio, Plan(since_ms=NOW - 2 * HOUR))
    assert (summary.recovered, summary.current, summary.resynced) == (1, 2, 2)
    assert sorted(a.subject for a in actions if a.what == "resynced") == ["t-3", "t-4"]


async def test_only_the_webhooks_that_point_at_a_taskhook_are_read_unless_named() -> None:
    lost = a_delivery("t-1", "task.failed", NOW - HOUR)
    studio = MemoryStudio([OTHER, OURS], [attempt(lost, NOW - HOUR, 401)], [])
    summary, _, _ = await reconcile(studio, Plan(since_ms=NOW - 2 * HOUR, tasks=False))
    assert (summary.examined, summary.errors) == (1, 0)  # wh-1 only: the logs are read once

    named = Plan(since_ms=NOW - 2 * HOUR, tasks=False, webhooks=("wh-2", "wh-9"))
    summary, actions, _ = await reconcile(studio, named)
    assert summary.examined == 1  # wh-2, named: read even though its URL is not taskhook's
    assert [a.subject for a in actions if a.what == "error"] == ["webhook wh-9"]

    summary, actions, _ = await reconcile(
        MemoryStudio([OTHER], [], []), Plan(since_ms=0, tasks=False)
    )
    assert [a.detail for a in actions] == [
        "none of the project's webhooks has a URL ending in /webhooks/livepeer"
    ]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"success": True, "response": {"status": 202}}, None),
        ({"success": False, "response": {"status": 401}}, "the receiver answered 401"),
        ({"success": False, "response": {"body": ""}}, "the receiver answered no answer"),
        ({"success": False, "response": "garbled"}, "the receiver answered no answer"),
    ],
)
async def test_a_resend_s_outcome_is_read_from_the_record_studio_returns(
    answer: dict[str, Any], said: str | None
) -> None:
    lost = a_delivery("t-1", "task.failed", NOW - HOUR)
    studio = MemoryStudio([OURS], [attempt(lost, NOW - HOUR, 401)], [])
    studio.resent = answer
    summary, actions, published = await reconcile(
        studio, Plan(since_ms=NOW - 2 * HOUR, tasks=False, resend=True)
    )
    assert published.events == []
    assert (summary.resent, summary.errors) == ((1, 0) if said is None else (0, 1))
    if said is not None:
        assert actions[-1].detail.endswith(said)
