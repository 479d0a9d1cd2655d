"""Faults under a steady stream of signed deliveries: nothing answered 2xx is ever missing.

Each scenario streams deliveries from a separate process into a real ``taskhook serve``, hurts
the broker or the service mid-stream, then counts every answer against every message in a queue
bound to ``#``. It prints its counts; ``-s`` shows them.

These faults reach every client of the shared broker: on a shared machine run them under
``flock -x /tmp/taskhook-machine.lock``.
"""

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import StartService
from tests.faults.harness import (
    LATENCY_MARGIN_S,
    PUBLISH_TIMEOUT_S,
    ReadinessWatch,
    ServiceProcess,
    Stream,
)
from tests.support import rabbitctl
from tests.support.accounting import CountingQueue, Tally, assert_nothing_lost, tally
from tests.support.loadgen import Answer

pytestmark = pytest.mark.fault

RATE = 80.0  # deliveries per second: steady, well within what one process takes on 2 cores
STREAM_S = 6.0
FAULT_AT_S = 2.0
RECOVERY_TIMEOUT_S = 20.0
MAX_LATENCY_S = PUBLISH_TIMEOUT_S + LATENCY_MARGIN_S


@asynccontextmanager
async def connections_closed() -> AsyncIterator[None]:
    await rabbitctl.close_all_connections()
    yield


@asynccontextmanager
async def app_stopped_for_2_s() -> AsyncIterator[None]:
    async with rabbitctl.broker_app_stopped():
        await asyncio.sleep(2)
        yield


@asynccontextmanager
async def memory_alarm_for_3_s() -> AsyncIterator[None]:
    async with rabbitctl.memory_alarm():
        await asyncio.sleep(3)
        yield


Fault = Callable[[], AbstractAsyncContextManager[None]]


async def run_stream(
    service: ServiceProcess, tmp_path: Path, during: Callable[[], Awaitable[None]]
) -> list[Answer]:
    stream = await Stream.start(
        service.webhook_url, tmp_path / "answers.jsonl", rate=RATE, duration_s=STREAM_S
    )
    try:
        await asyncio.sleep(FAULT_AT_S)
        await during()
    finally:
        answers = await stream.finish()
    return answers


async def count(name: str, answers: list[Answer], counted: CountingQueue) -> Tally:
    result = tally(answers, await counted.message_ids())
    print(f"\n[{name}] {result}")
    assert_nothing_lost(result, answers, max_latency_s=MAX_LATENCY_S)
    return result


async def assert_recovered(service: ServiceProcess, tmp_path: Path) -> list[Answer]:
    """Ready again by itself, and taking deliveries: a short second stream is all 2xx."""
    await service.wait_ready(RECOVERY_TIMEOUT_S)
    after = await Stream.start(
        service.webhook_url, tmp_path / "after.jsonl", rate=20, duration_s=0.5
    )
    answers = await after.finish()
    assert {answer.status for answer in answers} == {202}
    return answers


@pytest.mark.parametrize(
    ("fault", "readiness_drops"),
    [
        pytest.param(connections_closed, False, id="close_all_connections"),
        pytest.param(app_stopped_for_2_s, True, id="stop_app-start_app"),
        pytest.param(memory_alarm_for_3_s, True, id="memory-alarm"),
    ],
)
async def test_a_broker_fault_mid_stream_loses_no_accepted_delivery(
    serve: StartService,
    counted: CountingQueue,
    tmp_path: Path,
    fault: Fault,
    readiness_drops: bool,
    request: pytest.FixtureRequest,
) -> None:
    rabbitctl.require_rabbitmqctl()
    service = await serve()
    watch = ReadinessWatch(service)
    watch.start()
    window: list[float] = []

    async def hurt_the_broker() -> None:
        async with fault():
            window.append(time.monotonic())
        window.append(time.monotonic())

    try:
        answers = await run_stream(service, tmp_path, hurt_the_broker)
        answers += await assert_recovered(service, tmp_path)
    finally:
        await watch.stop()

    result = await count(request.node.callspec.id, answers, counted)
    assert result.accepted > 0
    during = watch.statuses_between(window[0] - 0.5, window[1])
    assert None not in during, "the probes must answer through a broker fault"
    if readiness_drops:  # the broker was gone, or blocked publishing: readiness said so
        assert 503 in during
    if request.node.callspec.id == "memory-alarm":
        # Answered at once while blocked, not after the publish timeout: at most the publishes
        # already waiting when the alarm went off time out.
        causes = Counter(
            line.get("cause") for line in service.log_lines() if line.get("status") == 503
        )
        assert causes["broker-blocked"] > 0
        assert causes["publish-timeout"] <= 5, causes
    service.assert_logs_clean()


async def test_sigterm_mid_stream_answers_what_it_took_and_exits_0(
    serve: StartService, counted: CountingQueue, tmp_path: Path
) -> None:
    service = await serve(TASKHOOK_DRAIN_DELAY_S="1")
    watch = ReadinessWatch(service)
    watch.start()

    async def terminate() -> None:
        service.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(service.process.wait(), 30) == 0

    try:
        answers = await run_stream(service, tmp_path, terminate)
    finally:
        await watch.stop()

    result = await count("SIGTERM", answers, counted)
    assert result.accepted > 0
    assert result.unanswered > 0  # the stream went on against a closed port
    assert 503 in [status for _, status in watch.seen]  # draining: readiness off first
    messages = [line["message"] for line in service.log_lines()]
    assert messages.index("draining") < messages.index("stopped")
    service.assert_logs_clean()


async def test_sigkill_mid_stream_loses_no_accepted_delivery(
    serve: StartService, counted: CountingQueue, tmp_path: Path
) -> None:
    service = await serve()

    async def kill() -> None:
        service.process.kill()
        await service.process.wait()

    answers = await run_stream(service, tmp_path, kill)

    result = await count("SIGKILL", answers, counted)
    assert result.accepted > 0
    assert result.unanswered > 0
