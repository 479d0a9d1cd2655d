"""When the broker cannot confirm, the sender hears 503 and retries: never a hang, never a 4xx."""

import asyncio
import time
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel

from taskhook.clock import now_ms
from taskhook.core.signature import sign
from tests.conftest import Service, ServiceFactory
from tests.support.archive import read_archive
from tests.support.broker import bind_queue, take, through
from tests.support.deliveries import SECRET, load_sample
from tests.support.proxy import TcpProxy


async def assert_503(response: Any, cause: str) -> None:
    assert response.status == 503
    assert response.headers["Retry-After"].isdigit()
    problem = await response.json(content_type="application/problem+json")
    assert problem["type"] == f"urn:taskhook:problem:{cause}"


async def test_starting_with_the_broker_down_serves_503_then_connects_by_itself(
    start_service: ServiceFactory, proxy: TcpProxy, channel: AbstractChannel, exchange: str
) -> None:
    await proxy.stop()
    service = await start_service(amqp_url=through(proxy))
    document = load_sample("task.spawned.upload.json")

    ready = await service.client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json(content_type="application/problem+json"))["broker"] == "down"
    assert (await service.client.get("/healthz")).status == 200
    await assert_503(await service.deliver(document), "broker-unavailable")

    await proxy.start()
    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    assert (await service.deliver(document)).status == 202  # the retry is not a duplicate
    assert (await take(queue)).message_id == document["id"]


async def test_a_lost_connection_gives_503_and_the_service_recovers_by_itself(
    start_service: ServiceFactory, proxy: TcpProxy, channel: AbstractChannel, exchange: str
) -> None:
    service = await start_service(amqp_url=through(proxy))
    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    assert (await service.deliver(load_sample("task.spawned.upload.json"))).status == 202

    await proxy.stop()
    await service.wait_until(ready=False)
    during = load_sample("task.updated.upload.running.json")
    await assert_503(await service.deliver(during), "broker-unavailable")

    await proxy.start()
    await service.wait_until(ready=True)
    assert (await service.deliver(during)).status == 202
    assert [(await take(queue)).type for _ in range(2)] == ["task.spawned", "task.updated"]


async def test_a_broker_that_stops_answering_gives_503_within_the_publish_timeout(
    start_service: ServiceFactory, proxy: TcpProxy
) -> None:
    service = await start_service(amqp_url=through(proxy), publish_timeout_s=0.5)
    await service.wait_until(ready=True)
    proxy.pause()

    started = time.monotonic()
    response = await service.deliver(load_sample("task.spawned.upload.json"))
    elapsed = time.monotonic() - started

    await assert_503(response, "publish-timeout")
    assert elapsed < 0.5 + 2.0  # bounded by the timeout, with room for a busy machine


async def test_a_broker_nack_gives_503(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    full = await channel.declare_queue(
        exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    await full.bind(exchange, routing_key="task.#")
    await assert_503(
        await service.deliver(load_sample("task.spawned.upload.json")), "publish-nacked"
    )


async def test_too_many_publishes_in_flight_gives_503_at_once(
    start_service: ServiceFactory, proxy: TcpProxy
) -> None:
    service = await start_service(amqp_url=through(proxy), max_in_flight=1, publish_timeout_s=5)
    await service.wait_until(ready=True)
    proxy.pause()
    stuck = asyncio.create_task(service.deliver(load_sample("task.spawned.upload.json")))
    async with asyncio.timeout(5):
        while service.metrics.registry.get_sample_value("taskhook_publishes_in_flight") != 1:
            await asyncio.sleep(0.01)

    response = await service.deliver(load_sample("task.updated.upload.running.json"))

    await assert_503(response, "overloaded")
    assert not stuck.done()
    proxy.resume()
    assert (await stuck).status == 202


async def test_a_refused_delivery_that_cannot_be_kept_gives_503_not_4xx(
    start_service: ServiceFactory, proxy: TcpProxy
) -> None:
    service = await start_service(amqp_url=through(proxy))
    await service.wait_until(ready=True)
    await proxy.stop()
    await service.wait_until(ready=False)
    invalid = load_sample("task.spawned.upload.json")
    invalid["payload"]["task"]["snapshot"]["status"]["phase"] = "exploded"
    not_json = b"{not json"
    signature = sign(not_json, SECRET.encode(), now_ms())

    await assert_503(await service.deliver(invalid), "broker-unavailable")
    response = await service.post(
        not_json, {"Content-Type": "application/json", "Livepeer-Signature": signature}
    )
    await assert_503(response, "broker-unavailable")


async def test_a_channel_closed_by_the_broker_gives_503_and_the_topology_is_declared_again(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str
) -> None:
    # Without the archive (as every test not marked archive): with it, the publish goes to the
    # archive's front, which still exists (the next test).
    service = await start_service()
    await service.wait_until(ready=True)
    await channel.exchange_delete(exchange)  # an operator's mistake; the broker closes our channel
    first = load_sample("task.spawned.upload.json")

    await assert_503(await service.deliver(first), "broker-unavailable")

    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")  # the exchange exists again
    assert (await service.deliver(first)).status == 202
    assert (await take(queue)).message_id == first["id"]


@pytest.mark.archive
async def test_with_the_events_exchange_deleted_an_event_is_still_kept_in_the_archive(
    service: Service, channel: AbstractChannel, exchange: str
) -> None:
    before = now_ms()
    await channel.exchange_delete(exchange)  # the front, and the stream behind it, are still there
    document = load_sample("task.spawned.upload.json")

    assert (await service.deliver(document)).status == 202

    kept = await read_archive(channel, exchange, before)
    assert [each.message.message_id for each in kept] == [document["id"]]


async def test_a_half_open_connection_answers_every_waiting_delivery_and_fails_over(
    start_service: ServiceFactory, proxy: TcpProxy, channel: AbstractChannel, exchange: str
) -> None:
    # A relay that stops forwarding, no FIN, no RST: only the heartbeat can tell. aiormq then
    # cancels the confirms it still awaits; each waiting delivery must still get its 503.
    service = await start_service(amqp_url=through(proxy) + "?heartbeat=1", publish_timeout_s=20)
    await service.wait_until(ready=True)
    proxy.pause()
    samples = ("task.spawned.upload.json", "task.updated.upload.running.json")
    waiting = [asyncio.create_task(service.deliver(load_sample(name))) for name in samples * 3]

    started = time.monotonic()
    async with asyncio.timeout(15):
        answers = await asyncio.gather(*waiting)
    for response in answers:
        assert response.status == 503
        problem = await response.json(content_type="application/problem+json")
        assert problem["type"] in (
            "urn:taskhook:problem:publish-interrupted",
            "urn:taskhook:problem:broker-unavailable",
        )
    assert time.monotonic() - started < 10  # the heartbeat's doing, well before the timeout

    proxy.resume()
    await service.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    assert (await service.deliver(load_sample(samples[0]))).status == 202
    assert (await take(queue)).message_id == load_sample(samples[0])["id"]


async def test_publishes_that_keep_timing_out_take_the_replica_out_of_the_balancer(
    start_service: ServiceFactory, proxy: TcpProxy
) -> None:
    service = await start_service(amqp_url=through(proxy), publish_timeout_s=0.3)
    await service.wait_until(ready=True)
    proxy.pause()
    for name in ("task.spawned.upload.json", "task.updated.upload.running.json") * 2:
        response = await service.deliver(load_sample(name))
        if response.status == 503 and (await service.client.get("/readyz")).status == 503:
            break
        await assert_503(response, "publish-timeout")
    # Three timeouts in a row: the connection is dropped, and /readyz says so at once, long
    # before the heartbeat (10 s) would have noticed.
    await service.wait_until(ready=False)
    proxy.resume()
    await service.wait_until(ready=True)
    assert (await service.deliver(load_sample("task.spawned.upload.json"))).status == 202
