"""What the image does, without a Docker engine: its build replayed in a fresh virtual environment.

The builder stage's instructions are read from docker/Dockerfile and carried out one by one (its
COPYs into a scratch context, its RUNs by /bin/sh with its ENV), with the venv in a temporary
folder instead of /opt/venv. Then the image's entrypoint, command and healthcheck are run from it.
"""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.deploy.dockerfile import ROOT, Stage, stages
from tests.support.broker import AMQP_URL
from tests.support.processes import (
    START_TIMEOUT_S,
    Running,
    environment,
    free_port,
    kill_all,
    track,
)

INSTALL_TIMEOUT_S = 300
pytestmark = [pytest.mark.image, pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)]


def replay(builder: Stage, context: Path, venv: Path) -> None:
    env = {**os.environ, **builder.env(), "VIRTUAL_ENV": str(venv)}
    # `python` in the RUN lines: this interpreter, as the base image's would be.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    workdir = context
    for instruction in builder.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = context / instruction.arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, target = instruction.arguments.split()
            for source in sources:
                copy_into(ROOT / source, workdir / target)
        elif instruction.keyword == "RUN":
            command = ["/bin/sh", "-c", instruction.arguments]
            subprocess.run(command, cwd=workdir, env=env, check=True, timeout=INSTALL_TIMEOUT_S)
        else:
            assert instruction.keyword == "ENV", f"replay {instruction.keyword} here too"


def copy_into(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("image")
    replay(stages()["builder"], folder / "context", folder / "venv")
    return folder / "venv"


def runtime_environment(venv: Path, **variables: str) -> dict[str, str]:
    """The runtime stage's ENV, with the temporary venv where the image has the builder's."""
    builder_venv = stages()["builder"].env()["VIRTUAL_ENV"]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TASKHOOK_")}
    env = {**inherited, **stages()["runtime"].env(), **variables}
    env["PATH"] = env["PATH"].replace(builder_venv, str(venv)).replace("$PATH", os.environ["PATH"])
    return env


def image_command(venv: Path) -> list[str]:
    runtime = stages()["runtime"]
    executable, *arguments = (
        runtime.last("ENTRYPOINT").exec_form() + runtime.last("CMD").exec_form()
    )
    return [str(venv / "bin" / executable), *arguments]


def test_the_installed_cli_runs_from_outside_the_source_tree(venv: Path, tmp_path: Path) -> None:
    env = runtime_environment(venv)
    taskhook = str(venv / "bin" / "taskhook")
    help_text = subprocess.run(
        [taskhook, "--help"], cwd=tmp_path, env=env, capture_output=True, check=True, text=True
    ).stdout
    assert "serve" in help_text
    # The published event's schema is package data: this fails if the wheel left it out.
    subprocess.run([taskhook, "schema", "--check"], cwd=tmp_path, env=env, check=True)
    assert not (venv / "bin" / "pytest").exists(), "the image must not get the dev extras"


@pytest.mark.broker
async def test_the_image_command_serves_passes_its_healthcheck_and_stops_on_sigterm(
    venv: Path, exchange: str, tmp_path: Path
) -> None:
    port = free_port()
    env = runtime_environment(venv, **environment(exchange, port, TASKHOOK_AMQP_URL=AMQP_URL))
    process = await asyncio.create_subprocess_exec(
        *image_command(venv),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,  # killed whole after the test, whatever the test did
    )
    track(process.pid)
    try:
        async with aiohttp.ClientSession() as http:
            await Running(process, f"http://127.0.0.1:{port}", http).wait_ready()
        assert await healthcheck(env) == 0
        assert await healthcheck({**env, "TASKHOOK_PORT": str(free_port())}) != 0
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
        assert process.returncode == 0
    finally:
        await kill_all(process)


async def healthcheck(env: dict[str, str]) -> int:
    """The image's HEALTHCHECK command, as Docker runs it: its exit status."""
    command = stages()["runtime"].last("HEALTHCHECK").exec_form()
    check = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(check.wait(), 10)
