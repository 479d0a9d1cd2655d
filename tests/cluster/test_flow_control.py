"""A memory alarm on one node of the cluster blocks publishing everywhere: every delivery is
answered 503 broker-blocked at once (not after the publish timeout), the replica says it is not
ready, and it takes deliveries again by itself once the alarm clears. Run with
``make cluster-test``."""

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults import harness
from tests.faults.harness import ReadinessWatch
from tests.support import cluster
from tests.support.accounting import CountingQueue, assert_nothing_lost, tally

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

RATE = 40.0
ALARM_S = 4.0
# A tiny fraction of the machine's memory: the node is over it at once.
ALARM_WATERMARK = "0.000001"
DEFAULT_WATERMARK = "0.4"


async def test_a_memory_alarm_on_one_node_is_answered_at_once_and_clears_by_itself(
    nodes: list[cluster.Node], cluster_counted: CountingQueue, exchange: str, tmp_path: Path
) -> None:
    service = await harness.start_service(exchange, tmp_path, TASKHOOK_AMQP_URL=cluster.urls())
    watch = ReadinessWatch(service)
    watch.start()
    stream = await harness.Stream.start(
        service.webhook_url, tmp_path / "answers.jsonl", rate=RATE, duration_s=ALARM_S + 8
    )
    window: list[float] = []
    try:
        await asyncio.sleep(2)
        alarmed = nodes[-1]  # not necessarily the node the ingest is connected to
        await asyncio.to_thread(
            cluster.ctl, alarmed, "set_vm_memory_high_watermark", ALARM_WATERMARK
        )
        window.append(time.monotonic())
        try:
            await asyncio.sleep(ALARM_S)
        finally:
            await asyncio.to_thread(
                cluster.ctl, alarmed, "set_vm_memory_high_watermark", DEFAULT_WATERMARK
            )
        window.append(time.monotonic())
        answers = await stream.finish(timeout_s=60)
    finally:
        await watch.stop()
        await harness.stop_service(service)

    result = tally(answers, await cluster_counted.message_ids())
    causes = Counter(line.get("cause") for line in service.log_lines() if line.get("status") == 503)
    print(f"\n[cluster memory alarm] {result}; 503 causes: {dict(causes)}")
    assert_nothing_lost(result, answers, max_latency_s=harness.PUBLISH_TIMEOUT_S + 1.5)
    assert causes["broker-blocked"] > 0
    assert causes["publish-timeout"] <= 5  # at most those already waiting when it went off
    assert 503 in watch.statuses_between(window[0], window[1] + 0.5)
    late = [a for a in answers if a.sent_at_s > ALARM_S + 6 and a.status is not None]
    assert late
    assert all(a.status == 202 for a in late), "taking deliveries again by itself"
