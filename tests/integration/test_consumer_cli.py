"""``taskhook consumers``, ``consume`` and ``tasks list|show`` as a person runs them."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from taskhook.consumers import AssetEvent
from taskhook.core.delivery import validate_delivery
from taskhook.core.message import event_message
from taskhook.tasks.store import TaskStore
from tests.support.databases import fresh_postgres_database
from tests.support.deliveries import load_family_sample
from tests.support.lifecycle import EXPECTED_OUTPUTS, as_event, failed_life, task_life
from tests.support.processes import START_TIMEOUT_S, clean_environment, run


async def taskhook(
    *args: str, database_url: str = "", cwd: Path | None = None
) -> tuple[int, str, str]:
    env = clean_environment(**({"TASKHOOK_DATABASE_URL": database_url} if database_url else {}))
    process = await run(*args, env=env, cwd=str(cwd) if cwd else None)
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.fixture
async def recorded(tmp_path: Path) -> tuple[str, list[str]]:
    """A database holding a completed upload and a failed transcode; and their task ids."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    store = TaskStore.connect(url)
    await store.migrate()
    upload, failed = task_life("upload"), failed_life("transcode-file")
    for body in upload + failed:
        await store.record(as_event(body))
    await store.close()
    return url, [upload[0]["task"]["id"], failed[0]["task"]["id"]]


async def test_consumers_lists_each_registered_consumer_with_its_bindings() -> None:
    status, stdout, _ = await taskhook("consumers")
    assert status == 0
    assert stdout.splitlines()[0].split("\t")[:2] == ["tasks", "task.# asset.#"]


async def test_consuming_an_unknown_consumer_fails_at_once_naming_it() -> None:
    status, _, stderr = await taskhook("consume", "nope")
    assert status == 2
    assert "no consumer named 'nope' (registered: tasks)" in stderr


async def test_tasks_list_shows_a_table_newest_first_and_filters_by_phase(
    recorded: tuple[str, list[str]],
) -> None:
    url, (upload_id, failed_id) = recorded
    status, stdout, _ = await taskhook("tasks", "list", database_url=url)
    assert status == 0
    lines = stdout.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "PHASE", "PROGRESS", "UPDATED"]
    assert [line.split()[:3] for line in lines[1:]] == [
        [upload_id, "upload", "completed"],
        [failed_id, "transcode-file", "failed"],
    ]
    _, failed_only, _ = await taskhook("tasks", "list", "--phase", "failed", database_url=url)
    assert [line.split()[0] for line in failed_only.splitlines()[1:]] == [failed_id]


async def test_tasks_list_json_prints_one_object_per_task(recorded: tuple[str, list[str]]) -> None:
    url, ids = recorded
    status, stdout, _ = await taskhook("tasks", "list", "--json", database_url=url)
    assert status == 0
    assert [json.loads(line)["id"] for line in stdout.splitlines()] == ids


async def test_tasks_show_prints_one_task_with_its_output(recorded: tuple[str, list[str]]) -> None:
    url, (upload_id, _) = recorded
    status, stdout, _ = await taskhook("tasks", "show", upload_id, database_url=url)
    assert status == 0
    shown = json.loads(stdout)
    assert (shown["phase"], shown["output"]) == ("completed", EXPECTED_OUTPUTS["upload"])

    status, _, stderr = await taskhook("tasks", "show", "no-such-task", database_url=url)
    assert (status, "no task 'no-such-task' has been recorded" in stderr) == (1, True)


@pytest.fixture
async def assets_recorded(tmp_path: Path) -> tuple[str, list[str]]:
    """A database holding a ready asset (sent in the older shape) and a failed one."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    store = TaskStore.connect(url)
    await store.migrate()
    ready = load_family_sample("asset.ready.legacy.json")
    failed = load_family_sample("asset.failed.json")
    snapshot = failed["payload"]["asset"]["snapshot"] | {"id": "f" * 8, "playbackId": "other"}
    failed["payload"]["asset"] = {"id": "f" * 8, "snapshot": snapshot}
    for document in (ready, failed):
        body = event_message(validate_delivery(document)).body
        await store.record(AssetEvent.model_validate_json(body))
    await store.close()
    return url, [ready["payload"]["id"], "f" * 8]


async def test_assets_list_and_show_print_what_the_consumer_kept(
    assets_recorded: tuple[str, list[str]],
) -> None:
    url, (ready_id, failed_id) = assets_recorded
    status, stdout, _ = await taskhook("assets", "list", database_url=url)
    assert status == 0
    lines = stdout.splitlines()
    assert lines[0].split() == ["ID", "PHASE", "PLAYBACK", "ID", "UPDATED", "NAME"]
    assert sorted(line.split()[:2] for line in lines[1:]) == sorted(
        [[ready_id, "ready"], [failed_id, "failed"]]
    )
    _, by_playback, _ = await taskhook(
        "assets", "list", "--playback-id", "3c9fx8k2m1q7w4ze", "--json", database_url=url
    )
    assert [json.loads(line)["id"] for line in by_playback.splitlines()] == [ready_id]
    status, stdout, _ = await taskhook("assets", "show", ready_id, database_url=url)
    assert status == 0
    shown = json.loads(stdout)
    assert (shown["phase"], shown["playbackId"]) == ("ready", "3c9fx8k2m1q7w4ze")
    assert shown["outputs"]["downloadUrl"].endswith("/video/download.mp4")

    status, _, stderr = await taskhook("assets", "show", "no-such-asset", database_url=url)
    assert (status, "no asset 'no-such-asset' has been recorded" in stderr) == (1, True)


async def test_reading_tasks_before_the_consumer_ran_says_how_to_start_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    status, _, stderr = await taskhook("tasks", "list", database_url=url)
    assert status == 1
    assert "start `taskhook consume tasks`" in stderr


async def test_a_consumer_whose_database_is_unreachable_exits_1_with_one_line_and_no_password() -> (
    None
):
    status, stdout, stderr = await taskhook(
        "consume", "tasks", database_url="postgresql+asyncpg://app:pa55word@127.0.0.1:1/tasks"
    )
    assert status == 1
    (line,) = [json.loads(line) for line in stdout.splitlines()]
    assert (line["message"], line["error"], line["detail"]) == (
        "consumer stopped by an error",
        "StoreUnavailable",
        "cannot open the tasks database at 127.0.0.1:1/tasks (TASKHOOK_DATABASE_URL): "
        "connection refused (is the database server running there?)",
    )
    assert "Traceback" not in stderr
    assert "pa55word" not in stdout + stderr


@pytest.mark.parametrize(
    "command", [["tasks", "list"], ["tasks", "show", "t-1"], ["consume", "tasks"]]
)
@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///tasks.db", "postgresql+asyncpg://"])
async def test_a_database_url_the_store_cannot_use_is_a_configuration_error(
    command: list[str], url: str
) -> None:
    status, stdout, stderr = await taskhook(*command, database_url=url)
    assert status == 2
    assert stderr.splitlines() == [
        "taskhook: bad configuration: TASKHOOK_DATABASE_URL: must be sqlite+aiosqlite:///<file> "
        "or postgresql+asyncpg://<user>:<password>@<host>/<database>"
    ]
    assert stdout == ""


async def test_tasks_list_says_in_one_line_that_its_database_does_not_exist() -> None:
    async with fresh_postgres_database() as url:
        missing = str(make_url(url).set(database="taskhook_no_such_database"))
        status, _, stderr = await taskhook("tasks", "list", database_url=missing)
    assert status == 1
    (line,) = stderr.splitlines()
    assert line.startswith("taskhook: cannot open the tasks database at ")
    assert line.endswith(
        '/taskhook_no_such_database (TASKHOOK_DATABASE_URL): database "taskhook_no_such_database" '
        "does not exist"
    )


async def test_reading_tasks_where_there_is_no_database_creates_none(tmp_path: Path) -> None:
    status, _, stderr = await taskhook("tasks", "list", cwd=tmp_path)  # the default: a file here
    assert status == 1
    assert stderr.splitlines() == [
        "taskhook: no tasks database at taskhook-tasks.sqlite3: start `taskhook consume tasks` "
        "once, or set TASKHOOK_DATABASE_URL to where it keeps its state"
    ]
    assert files_in(tmp_path) == []


def files_in(directory: Path) -> list[Path]:
    return list(directory.iterdir())
