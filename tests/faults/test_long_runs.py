"""The long runs: repeated outages (``make chaos``) and minutes of steady load (``make soak``).

Both bound the ingest's memory of confirmed events (``TASKHOOK_DEDUP_CAPACITY``) so that it is
full early: it is meant to grow up to its bound, and what is measured is growth beyond it.
"""

import asyncio
import os
import statistics
import time
from pathlib import Path

import pytest

from tests.conftest import StartService
from tests.faults.harness import LATENCY_MARGIN_S, PUBLISH_TIMEOUT_S, Stream
from tests.support import rabbitctl
from tests.support.accounting import CountingQueue, assert_nothing_lost, tally

MB = 1024 * 1024
DEDUP_CAPACITY = "2000"
OUTAGES = int(os.environ.get("TASKHOOK_CHAOS_OUTAGES", "8"))
SOAK_S = float(os.environ.get("TASKHOOK_SOAK_S", "300"))
SOAK_RATE = float(os.environ.get("TASKHOOK_SOAK_RATE", "250"))
PER_OUTAGE_S = 12.0


@pytest.mark.chaos
@pytest.mark.timeout(OUTAGES * PER_OUTAGE_S + 300)
async def test_memory_does_not_grow_across_repeated_broker_outages(
    serve: StartService, counted: CountingQueue, tmp_path: Path
) -> None:
    rabbitctl.require_rabbitmqctl()
    service = await serve(TASKHOOK_DEDUP_CAPACITY=DEDUP_CAPACITY)
    stream = await Stream.start(
        service.webhook_url, tmp_path / "answers.jsonl", rate=60, duration_s=OUTAGES * PER_OUTAGE_S
    )
    rss = []
    try:
        for outage in range(OUTAGES):
            await asyncio.sleep(3)
            if outage % 2:
                await rabbitctl.close_all_connections()
            else:
                async with rabbitctl.broker_app_stopped():
                    await asyncio.sleep(2)
            await service.wait_ready(20)
            await asyncio.sleep(2)
            rss.append(service.rss_bytes())
    finally:
        answers = await stream.finish(timeout_s=OUTAGES * PER_OUTAGE_S + 60)
    result = tally(answers, await counted.message_ids())
    print(f"\n[chaos: {OUTAGES} outages] {result}")
    print("[chaos] RSS after each outage (MB):", [round(r / MB, 1) for r in rss])
    assert_nothing_lost(result, answers, max_latency_s=PUBLISH_TIMEOUT_S + LATENCY_MARGIN_S)
    # After the first two (imports warmed, dedup memory full), outages add nothing that stays.
    assert max(rss[2:]) - rss[1] < 8 * MB
    service.assert_logs_clean()


@pytest.mark.soak
@pytest.mark.timeout(SOAK_S + 300)
async def test_minutes_of_steady_load_keep_memory_and_latency_flat_and_lose_nothing(
    serve: StartService, counted: CountingQueue, tmp_path: Path
) -> None:
    service = await serve(TASKHOOK_DEDUP_CAPACITY=DEDUP_CAPACITY)
    stream = await Stream.start(
        service.webhook_url, tmp_path / "answers.jsonl", rate=SOAK_RATE, duration_s=SOAK_S
    )
    rss: list[tuple[float, int]] = []
    started = time.monotonic()
    while stream.process.returncode is None and time.monotonic() - started < SOAK_S + 5:
        rss.append((time.monotonic() - started, service.rss_bytes()))
        await asyncio.sleep(5)
    answers = await stream.finish(timeout_s=SOAK_S + 120)
    result = tally(answers, await counted.message_ids())
    minute = min(60.0, SOAK_S / 4)

    def p99(start: float, end: float) -> float:
        latencies = [a.latency_s for a in answers if start <= a.sent_at_s < end]
        return statistics.quantiles(latencies, n=100)[98]

    def mean_rss(start: float, end: float) -> float:
        return statistics.mean(r for at, r in rss if start <= at < end)

    first, last = (minute, 2 * minute), (SOAK_S - minute, SOAK_S)
    print(f"\n[soak: {SOAK_S:.0f} s at {SOAK_RATE:.0f}/s] {result}")
    print(
        f"[soak] p99 latency {p99(*first) * 1000:.1f} ms -> {p99(*last) * 1000:.1f} ms; "
        f"RSS {mean_rss(*first) / MB:.1f} MB -> {mean_rss(*last) / MB:.1f} MB"
    )
    assert_nothing_lost(result, answers, max_latency_s=PUBLISH_TIMEOUT_S + LATENCY_MARGIN_S)
    assert result.accepted == result.sent == result.in_queue, "no errors, every message kept"
    assert mean_rss(*last) - mean_rss(*first) < 10 * MB
    assert p99(*last) < max(2 * p99(*first), p99(*first) + 0.02)
    service.assert_logs_clean()
