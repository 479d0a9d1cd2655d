"""The console's pages over real SQLite and PostgreSQL, and what they say when something is out
of reach: precise statuses, never a password. (The browser tier, tests/browser, uses them as a
person does.)"""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from taskhook.broker.topology import Topology
from taskhook.console.app import create_console_app
from taskhook.console.broker import BrokerView
from taskhook.core.redaction import DEFAULT_REDACTION
from taskhook.settings import ConsoleSettings
from taskhook.tasks.store import TaskStore
from tests.support.broker import AMQP_URL
from tests.support.lifecycle import as_event, task_life

Client = TestClient[Any, Any]
ClientFactory = Callable[..., Any]


@pytest.fixture
async def console(database_url: str, exchange: str) -> AsyncIterator[Callable[..., Any]]:
    """A console over ``database_url`` (migrated) and the broker; ``amqp_url`` overridable."""
    clients: list[Client] = []

    async def start(*, amqp_url: str = AMQP_URL, url: str = database_url) -> Client:
        settings = ConsoleSettings(amqp_url=amqp_url, exchange=exchange, database_url=url)
        broker = BrokerView(amqp_url, Topology(exchange), (), DEFAULT_REDACTION)
        app = create_console_app(settings, TaskStore.connect(url), broker)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def recorded(database_url: str) -> list[dict[str, Any]]:
    """An export task's whole life, recorded by the tasks store."""
    store = TaskStore.connect(database_url)
    await store.migrate()
    life = task_life("export")
    await store.record_many([as_event(body) for body in life])
    await store.close()
    return life


async def test_the_tasks_pages_read_what_the_store_recorded(
    console: ClientFactory, recorded: list[dict[str, Any]]
) -> None:
    client = await console()
    task_id = recorded[0]["task"]["id"]
    for path in ("/tasks", f"/tasks?q={recorded[2]['id']}", "/tasks?phase=completed&type=export"):
        listing = await client.get(path)
        assert listing.status == 200
        assert task_id in await listing.text(), path
    assert task_id not in await (await client.get("/tasks?phase=failed")).text()
    page = await client.get(f"/tasks/{task_id}")
    assert page.status == 200
    assert 'class="phase phase-completed"' in await page.text()
    missing = await client.get("/tasks/no-such-task")
    assert missing.status == 404
    assert "No task" in await missing.text()


@pytest.mark.parametrize(
    ("query", "named"),
    [("since=yesterday", "since"), ("phase=finished", "phase"), ("offset=-1", "offset")],
)
async def test_a_filter_that_cannot_work_is_a_400_naming_it(
    console: ClientFactory, recorded: list[dict[str, Any]], query: str, named: str
) -> None:
    answer = await (await console()).get(f"/tasks?{query}")
    assert answer.status == 400
    assert named in await answer.text()


async def test_a_queue_that_holds_nothing_back_is_not_found(console: ClientFactory) -> None:
    answer = await (await console()).get("/held/some.other.queue")
    assert answer.status == 404
    assert (await answer.json())["type"] == "urn:taskhook:problem:not-found"


async def test_a_broker_out_of_reach_is_a_503_page_naming_where_and_not_the_password(
    console: ClientFactory, exchange: str
) -> None:
    unreachable = str(URL(AMQP_URL).with_port(1).with_password("s3cret-pw"))
    client = await console(amqp_url=unreachable)
    for path in ("/held", "/consumers", f"/held/{Topology(exchange).rejected_queue}"):
        answer = await client.get(path)
        text = await answer.text()
        assert answer.status == 503, path
        assert ":1" in text
        assert "s3cret-pw" not in text


async def test_a_database_the_consumer_never_created_is_a_503_page_saying_so(
    console: ClientFactory, tmp_path: Any
) -> None:
    client = await console(url=f"sqlite+aiosqlite:///{tmp_path / 'nothing-here.sqlite3'}")
    answer = await client.get("/tasks")
    assert answer.status == 503
    assert "taskhook consume tasks" in await answer.text()
