"""The tasks read API's exposure rule, on a real ``taskhook consume tasks`` process: off the
loopback interface only with a token, and then only to requests carrying it."""

import asyncio
from pathlib import Path

import aiohttp
import pytest

from taskhook.bootstrap import consumer_topology
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.support import owned
from tests.support.processes import (
    START_TIMEOUT_S,
    Running,
    clean_environment,
    free_port,
    kill_all,
    run,
)

pytestmark = pytest.mark.broker
TOKEN = "a-token-of-at-least-16-characters"


async def test_on_every_interface_without_a_token_it_refuses_to_start_in_one_line(
    tmp_path: Path,
) -> None:
    process = await run(
        "consume",
        "tasks",
        env=clean_environment(
            TASKHOOK_CONSUMER_HOST="0.0.0.0",  # what the test checks is refused
            TASKHOOK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}",
        ),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1, lines
    assert "TASKHOOK_CONSUMER_HOST=0.0.0.0" in lines[0]
    assert "TASKHOOK_CONSUMER_TOKEN" in lines[0]
    assert not stdout


async def test_on_every_interface_with_a_token_it_serves_this_machine_without_it(
    exchange: str, tmp_path: Path
) -> None:
    """From this machine (a person on it, ``kubectl port-forward``) no token is needed. A request
    from elsewhere is refused without it: that half is tested on the guard itself
    (tests/unit/test_exposure.py), since these tests send traffic only over loopback."""
    port = free_port()
    env = clean_environment(
        TASKHOOK_EXCHANGE=exchange,
        TASKHOOK_CONSUMER_HOST="0.0.0.0",  # listening everywhere is the point
        TASKHOOK_CONSUMER_PORT=str(port),
        TASKHOOK_CONSUMER_TOKEN=TOKEN,
        TASKHOOK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}",
    )
    settings = ConsumerSettings(exchange=exchange)  # the default delays, as the process
    owned.own_consumer(consumer_topology(tasks, settings))
    process = await run("consume", "tasks", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await Running(process, url, http).wait_ready()
            async with http.get(f"{url}/tasks") as served:
                assert served.status == 200
                assert (await served.json())["tasks"] == []  # a fresh database
    finally:
        await kill_all(process)
