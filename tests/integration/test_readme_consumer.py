"""The README's "write your own consumer" example, run exactly as the README says."""

import asyncio
import json
import re
import shlex
import sys
from pathlib import Path

import aiohttp
from aio_pika.abc import AbstractChannel

from taskhook.broker.topology import ConsumerTopology
from taskhook.core import retry
from tests.support.broker import declared_queue, take
from tests.support.consumers import delete_queues, publish
from tests.support.lifecycle import published, snapshot
from tests.support.processes import START_TIMEOUT_S, Running, clean_environment

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_NAME = '"finished-uploads"'


def readme_example() -> tuple[str, dict[str, str], list[str]]:
    """The example module's code, and the command's environment and arguments."""
    text = README.read_text()
    code = re.search(r"```python\n# my_consumers\.py\n(.*?)```", text, re.DOTALL)
    command = re.search(r"^(\S+=\S+ )*\.venv/bin/taskhook consume my_consumers:.*$", text, re.M)
    assert code, "the README lost its consumer example"
    assert command, "the README lost the command that runs its consumer example"
    words = shlex.split(command.group(0))
    env = dict(word.split("=", 1) for word in words if "=" in word)
    return code.group(1), env, [word for word in words if "=" not in word][1:]


async def test_the_readme_consumer_example_runs_as_written(
    channel: AbstractChannel, exchange: str, consumer_name: str, tmp_path: Path
) -> None:
    code, env, args = readme_example()
    assert EXAMPLE_NAME in code
    (tmp_path / "my_consumers.py").write_text(code.replace(EXAMPLE_NAME, f'"{consumer_name}"'))
    taskhook = str(Path(sys.executable).parent / "taskhook")
    process = await asyncio.create_subprocess_exec(
        taskhook,
        *args,
        cwd=tmp_path,
        env=clean_environment(
            **env, TASKHOOK_EXCHANGE=exchange, TASKHOOK_CONSUMER_HOST="127.0.0.1"
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    topology = ConsumerTopology(exchange, consumer_name, (), (5000, 30000, 300000))
    try:
        async with aiohttp.ClientSession() as http:
            base_url = f"http://127.0.0.1:{env['TASKHOOK_CONSUMER_PORT']}"
            await Running(process, base_url, http).wait_ready()
        finished = snapshot("t-1", "upload", "completed", 2) | {"outputAssetId": "asset-1"}
        await publish(channel, exchange, published("task.completed", finished, success=True))
        orphan = snapshot("t-2", "upload", "completed", 3)  # no output asset: a permanent error
        await publish(channel, exchange, published("task.completed", orphan, success=True))

        parked = await take(await declared_queue(channel, topology.dead_queue), START_TIMEOUT_S)
        assert parked.headers[retry.DEAD_REASON] == "permanent-error"
    finally:
        process.terminate()
        stdout, _ = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
        await delete_queues(channel, topology)

    assert process.returncode == 0
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [
        (line["task_id"], line["asset_id"])
        for line in lines
        if line["message"] == "upload finished"
    ] == [("t-1", "asset-1")]
