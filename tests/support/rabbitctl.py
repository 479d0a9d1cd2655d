"""Hurting the real RabbitMQ on purpose with ``rabbitmqctl``, and always putting it back.

Every fault here is undone in a ``finally``: the node is started again and the memory watermark
restored whatever the test did, and the broker is checked to answer AMQP before the test goes
on. These faults hit every client of the broker, not just the test's: on a shared machine, run
them under ``flock -x /tmp/taskhook-machine.lock`` (see the README's Reliability section).
"""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest

from tests.support.broker import AMQP_URL

RABBITMQCTL_TIMEOUT_S = 60.0
# RabbitMQ's own default: what the watermark is put back to if it cannot be read first.
DEFAULT_WATERMARK = "0.4"
# A tiny fraction of the machine's memory: the node is over it at once and blocks publishers.
ALARM_WATERMARK = "0.000001"
BROKER_BACK_TIMEOUT_S = 60.0


def require_rabbitmqctl() -> str:
    """The path of ``rabbitmqctl``; in CI its absence fails the test, elsewhere it skips it."""
    path = shutil.which("rabbitmqctl")
    if path is not None:
        return path
    message = "rabbitmqctl is not installed: the broker fault tests need it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl args``; raises with its output if it fails."""
    process = await asyncio.create_subprocess_exec(
        require_rabbitmqctl(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), RABBITMQCTL_TIMEOUT_S)
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {text.strip()[-500:]}")
    return text


async def close_all_connections() -> None:
    """The broker closes every client connection (the test's own ones too)."""
    await rabbitmqctl("close_all_connections", "taskhook reliability test")


@asynccontextmanager
async def broker_app_stopped() -> AsyncIterator[None]:
    """The RabbitMQ application stopped inside the block; started again after, whatever happens."""
    try:
        await rabbitmqctl("stop_app")
        yield
    finally:
        await rabbitmqctl("start_app")
        await wait_for_broker()


@asynccontextmanager
async def memory_alarm() -> AsyncIterator[None]:
    """A memory alarm inside the block: the broker blocks every publishing connection."""
    before = await memory_watermark()
    try:
        await rabbitmqctl("set_vm_memory_high_watermark", ALARM_WATERMARK)
        yield
    finally:
        await rabbitmqctl("set_vm_memory_high_watermark", before)
        restored = await memory_watermark()
        assert float(restored) == float(before), f"watermark left at {restored}, was {before}"


async def memory_watermark() -> str:
    """The node's relative memory watermark now, as ``rabbitmqctl`` would take it."""
    try:
        text = await rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    except RuntimeError:
        return DEFAULT_WATERMARK
    value = text.strip()
    try:
        float(value)
    except ValueError:  # an absolute watermark ({absolute, N}): put back the default
        return DEFAULT_WATERMARK
    return value


async def wait_for_broker() -> None:
    """Until the broker accepts an AMQP connection again."""
    async with asyncio.timeout(BROKER_BACK_TIMEOUT_S):
        while True:
            try:
                connection = await aio_pika.connect(AMQP_URL, timeout=5)
            except (OSError, aio_pika.exceptions.AMQPError):
                await asyncio.sleep(0.2)
                continue
            await connection.close()
            return
