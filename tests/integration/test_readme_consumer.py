"""The "write your own consumer" example of docs/consumers.md, run as the page says.

The page's command gives the example a port of its own (8082, beside `make run`'s 8081). A test
cannot rely on a fixed port: another process may hold it, and then the test would talk to that
process and pass or fail for reasons of its own. So the port comes from the system, and the
test makes sure that the process answering is the one it started.
"""

import asyncio
import json
import re
import shlex
import sys
from pathlib import Path

import aiohttp
from aio_pika.abc import AbstractChannel

from taskhook.broker.topology import ConsumerTopology, Topology
from taskhook.core import retry
from tests.support import owned
from tests.support.broker import declared_queue, take
from tests.support.consumers import publish
from tests.support.lifecycle import published, snapshot
from tests.support.processes import START_TIMEOUT_S, Running, clean_environment, free_port, track

PAGE = Path(__file__).resolve().parents[2] / "docs" / "consumers.md"
EXAMPLE_NAME = '"finished-uploads"'
PORT = "TASKHOOK_CONSUMER_PORT"


def documented_example() -> tuple[str, dict[str, str], list[str]]:
    """The example module's code, and the command's environment and arguments."""
    text = PAGE.read_text()
    code = re.search(r"```python\n# my_consumers\.py\n(.*?)```", text, re.DOTALL)
    command = re.search(r"^(\S+=\S+ )*\.venv/bin/taskhook consume my_consumers:.*$", text, re.M)
    assert code, f"{PAGE.name} lost its consumer example"
    assert command, f"{PAGE.name} lost the command that runs its consumer example"
    words = shlex.split(command.group(0))
    env = dict(word.split("=", 1) for word in words if "=" in word)
    return code.group(1), env, [word for word in words if "=" not in word][1:]


async def wait_ready(process: asyncio.subprocess.Process, base_url: str) -> None:
    """Ready, or fail at once if the process exits first (it could not take its port)."""
    async with aiohttp.ClientSession() as http:
        ready = asyncio.ensure_future(Running(process, base_url, http).wait_ready())
        exited = asyncio.ensure_future(process.wait())
        done, _ = await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if ready not in done:
            ready.cancel()
            raise AssertionError(f"the example exited with {process.returncode} before ready")
        ready.result()  # a timeout is raised here


async def test_the_documented_consumer_example_runs_as_written(
    channel: AbstractChannel, exchange: str, consumer_name: str, tmp_path: Path
) -> None:
    code, env, args = documented_example()
    assert EXAMPLE_NAME in code
    assert PORT in env, "the page's command no longer keeps the example off make run's port"
    (tmp_path / "my_consumers.py").write_text(code.replace(EXAMPLE_NAME, f'"{consumer_name}"'))
    port = free_port()
    taskhook = str(Path(sys.executable).parent / "taskhook")
    topology = ConsumerTopology(Topology(exchange), consumer_name, (), (5000, 30000, 300000))
    owned.own_consumer(topology)
    process = await asyncio.create_subprocess_exec(
        taskhook,
        *args,
        cwd=tmp_path,
        env=clean_environment(
            **(env | {PORT: str(port)}),
            TASKHOOK_EXCHANGE=exchange,
            TASKHOOK_CONSUMER_HOST="127.0.0.1",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # killed whole after the test, whatever the test did
    )
    track(process.pid)
    try:
        await wait_ready(process, f"http://127.0.0.1:{port}")
        finished = snapshot("t-1", "upload", "completed", 2) | {"outputAssetId": "asset-1"}
        await publish(channel, exchange, published("task.completed", finished, success=True))
        orphan = snapshot("t-2", "upload", "completed", 3)  # no output asset: a permanent error
        await publish(channel, exchange, published("task.completed", orphan, success=True))

        parked = await take(await declared_queue(channel, topology.dead_queue), START_TIMEOUT_S)
        assert parked.headers[retry.DEAD_REASON] == "permanent-error"
    finally:
        if process.returncode is None:
            process.terminate()
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)

    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [
        (line["task_id"], line["asset_id"])
        for line in lines
        if line["message"] == "upload finished"
    ] == [("t-1", "asset-1")]
