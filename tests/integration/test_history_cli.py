"""``taskhook history``: the event index as a timeline or JSON lines, with every option."""

from pathlib import Path
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractChannel

from taskhook.clock import now_ms
from taskhook.core.delivered import DeliveredAs, delivered_as
from taskhook.core.message import OutgoingMessage, PublishedTaskEvent
from taskhook.tasks.store import TaskStore
from taskhook.tools.send import sample_life
from tests.support.archive import live_messages, publish_archived

from .test_operator_tools import Finished, tool

pytestmark = pytest.mark.archive  # history --body reads the archive


def as_handled(message: OutgoingMessage) -> tuple[PublishedTaskEvent, DeliveredAs]:
    """The event as the tasks consumer handles ``message``, and how it arrived."""
    event = PublishedTaskEvent.model_validate_json(message.body)
    return event, delivered_as(message.routing_key, message.headers)


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    store = TaskStore.connect(url)
    await store.migrate()
    await store.close()
    return url


async def index(database: str, messages: list[OutgoingMessage]) -> None:
    store = TaskStore.connect(database)
    try:
        handled = [as_handled(message) for message in messages]
        await store.record_many([e for e, _ in handled], [f for _, f in handled])
    finally:
        await store.close()


async def history(exchange: str, database: str, *options: str, **env: str) -> Finished:
    return await tool(exchange, "history", *options, TASKHOOK_DATABASE_URL=database, **env)


@pytest.fixture
async def two_tasks(exchange: str, database: str) -> tuple[list[OutgoingMessage], ...]:
    """An upload's whole life and a transcode-file's, indexed (not archived)."""
    upload = live_messages(list(sample_life("upload", "task.completed", 5)))
    transcode = live_messages(list(sample_life("transcode-file", "task.failed", 3)))
    await index(database, [*upload, *transcode])
    return upload, transcode


def task_of(messages: list[OutgoingMessage]) -> str:
    return str(messages[0].headers["task-id"])


async def test_a_task_is_a_timeline_oldest_first(
    exchange: str, database: str, two_tasks: tuple[list[OutgoingMessage], ...]
) -> None:
    upload, _ = two_tasks

    shown = await history(exchange, database, "--task", task_of(upload))

    assert shown.code == 0, shown.error
    assert shown.lines[0].split()[:6] == [
        "RECEIVED",
        "UPDATED",
        "EVENT",
        "PHASE",
        "PROGRESS",
        "TASK",
    ]
    rows = [line.split() for line in shown.lines[1:]]
    assert [row[2] for row in rows] == ["task.spawned", *["task.updated"] * 3, "task.completed"]
    assert [row[-1] for row in rows] == [message.message_id for message in upload]
    assert rows[0][3] == "pending"
    assert rows[-1][3] == "completed"


async def test_json_lines_carry_every_field(
    exchange: str, database: str, two_tasks: tuple[list[OutgoingMessage], ...]
) -> None:
    _, transcode = two_tasks

    shown = await history(exchange, database, "--task", task_of(transcode), "--json")

    lines = [orjson.loads(line) for line in shown.lines]
    assert [line["event"] for line in lines] == ["task.spawned", "task.updated", "task.failed"]
    assert set(lines[0]) >= {"id", "event", "task_id", "phase", "received_at", "routing_key"}
    assert lines[-1]["routing_key"] == "task.failed.transcode-file"
    assert lines[-1]["phase"] == "failed"
    assert {line["task_id"] for line in lines} == {task_of(transcode)}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--event", "task.completed"), ["upload:4"]),
        (
            ("--event", "task.spawned", "--event", "task.failed"),
            ["upload:0", "transcode:0", "transcode:2"],
        ),
        (("--type", "transcode-file"), ["transcode:0", "transcode:1", "transcode:2"]),
        (("--type", "upload", "--limit", "2"), ["upload:3", "upload:4"]),
        (("--event-id", "@transcode:1"), ["transcode:1"]),
        (("--since", "10m", "--type", "upload", "--event", "task.spawned"), ["upload:0"]),
        (("--until", "10m"), []),
    ],
)
async def test_each_option_narrows_what_is_listed(
    exchange: str,
    database: str,
    two_tasks: tuple[list[OutgoingMessage], ...],
    options: tuple[str, ...],
    expected: list[str],
) -> None:
    named = {"upload": two_tasks[0], "transcode": two_tasks[1]}

    def id_of(reference: str) -> str:
        kind, position = reference.removeprefix("@").split(":")
        return named[kind][int(position)].message_id

    given = tuple(id_of(option) if option.startswith("@") else option for option in options)
    shown = await history(exchange, database, *given, "--json")

    assert shown.code == 0, shown.error
    assert [orjson.loads(line)["id"] for line in shown.lines] == [id_of(e) for e in expected]
    if not expected:
        assert "no events found" in shown.error


async def test_body_adds_what_was_published_from_the_archive(
    channel: AbstractChannel, exchange: str, database: str
) -> None:
    messages = live_messages(list(sample_life("clip", "task.completed", 3)))
    await publish_archived(channel, exchange, messages)
    await index(database, messages)

    shown = await history(exchange, database, "--task", task_of(messages), "--body")

    assert shown.code == 0, shown.error
    bodies = [orjson.loads(line)["body"] for line in shown.lines]
    assert bodies == [orjson.loads(message.body) for message in messages]


async def test_a_window_past_the_retention_is_noted(
    exchange: str, database: str, two_tasks: tuple[list[OutgoingMessage], ...]
) -> None:
    shown = await history(exchange, database, "--since", "8d", "--limit", "1")

    assert shown.code == 0
    assert len(shown.lines) == 2
    assert "note: the window starts before" in shown.error
    assert "the oldest the archive keeps" in shown.error


@pytest.mark.parametrize(
    ("options", "env", "says"),
    [
        (("--since", "soon"), {}, "--since: 'soon' is not a time like 2h"),
        (("--since", "1h", "--until", "2h"), {}, "--until must be after --since"),
        (
            ("--task", "x", "--body"),
            {"TASKHOOK_ARCHIVE_ENABLED": "false"},
            "the archive is turned off",
        ),
    ],
)
async def test_bad_input_is_one_line(
    exchange: str, database: str, options: tuple[str, ...], env: dict[str, Any], says: str
) -> None:
    shown = await history(exchange, database, *options, **env)

    assert shown.code == 2
    assert shown.error.strip().count("\n") == 0
    assert says in shown.error


async def test_a_database_the_consumer_never_started_on_says_what_to_do(
    exchange: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}"

    shown = await history(exchange, url, "--task", "x")

    assert shown.code == 1
    assert "start `taskhook consume tasks` once" in shown.error
    assert not (tmp_path / "none.sqlite3").exists()
    assert now_ms()


async def test_a_database_from_before_the_event_index_says_what_to_do(
    exchange: str, database: str, tmp_path: Path
) -> None:
    store = TaskStore.connect(database)
    async with store._writer.begin() as connection:  # as a consumer older than the index left it
        await connection.exec_driver_sql("DROP TABLE events")
    await store.close()

    shown = await history(exchange, database, "--task", "x")

    assert shown.code == 1
    assert "(or predate the event index): start `taskhook consume tasks` once" in shown.error
