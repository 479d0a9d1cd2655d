"""What operators see: one log line per delivery, metrics, and the probes."""

import logging

import pytest

from tests.conftest import Service
from tests.support.deliveries import SECRET, load_sample, signed


async def test_each_delivery_gets_one_log_line_with_ids_status_cause_and_latency(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskhook.webhook")
    document = load_sample("task.completed.upload.json")
    await service.deliver(document)
    await service.deliver(document)
    body, headers = signed(document, secret="not-the-secret")
    await service.post(body, headers)

    lines = [r for r in caplog.records if r.name == "taskhook.webhook"]
    assert [(r.status, r.outcome, r.cause) for r in lines] == [  # type: ignore[attr-defined]
        (202, "accepted", "ok"),
        (200, "duplicate", "ok"),
        (401, "refused", "signature-mismatch"),
    ]
    first = lines[0]
    assert first.event_id == document["id"]  # type: ignore[attr-defined]
    assert first.task_id == document["payload"]["task"]["id"]  # type: ignore[attr-defined]
    assert first.event == "task.completed"  # type: ignore[attr-defined]
    assert first.latency_ms >= 0  # type: ignore[attr-defined]


async def test_logs_carry_neither_secrets_nor_payloads(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskhook")
    document = load_sample("task.failed.transcode-file.json")
    snapshot = document["payload"]["task"]["snapshot"]
    snapshot["status"]["phase"] = "exploded"  # a refusal: the most tempting thing to log whole
    await service.deliver(document)

    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert SECRET not in logged
    assert snapshot["params"]["transcode-file"]["storage"]["url"] not in logged
    assert "exploded" not in logged
    assert "guest:guest" not in logged


async def test_metrics_count_outcomes_and_report_the_broker_connection(service: Service) -> None:
    document = load_sample("task.spawned.upload.json")
    await service.deliver(document)
    await service.deliver(document)

    response = await service.client.get("/metrics")
    text = await response.text()

    assert response.status == 200
    assert response.content_type == "text/plain"
    assert 'taskhook_webhook_requests_total{cause="ok",outcome="accepted"} 1.0' in text
    assert 'taskhook_webhook_requests_total{cause="ok",outcome="duplicate"} 1.0' in text
    assert "taskhook_broker_connected 1.0" in text
    assert "taskhook_publishes_in_flight 0.0" in text
    assert 'taskhook_publish_seconds_count{destination="events",result="confirmed"} 1.0' in text


async def test_readiness_reports_the_broker_and_draining(service: Service) -> None:
    response = await service.client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"status": "ready", "broker": "ok", "draining": "no"}
