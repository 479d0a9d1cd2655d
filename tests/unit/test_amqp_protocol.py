"""taskhook's AMQP connection where the protocol's edges are: which answer belongs to which
call, a Return after its publish timed out, frames too large or malformed, how it closes, and a
socket that stopped taking writes. Frame by frame, with no socket (tests/unit/
test_amqp_connection.py has the ordinary paths; tests/integration/test_amqp_node.py the same
edges against a real broker)."""

import asyncio
import struct
from typing import Any

import pytest
from pamqp import commands as spec
from pamqp import frame as codec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from yarl import URL

from taskhook.broker.amqp import (
    CHANNEL,
    AmqpConnection,
    ConnectionLost,
    Delivered,
    OpeningRefused,
    Returned,
    WriteBlocked,
)
from taskhook.broker.amqp.opening import handshake as amqp_handshake
from tests.unit.test_amqp_connection import (
    Transport,
    deliver,
    opened,
    properties,
    receive,
    settled,
)

CLOSE_OK = codec.marshal(spec.Connection.CloseOk(), 0)


def closes(transport: Transport) -> list[spec.Connection.Close]:
    return [frame for frame in transport.frames() if isinstance(frame, spec.Connection.Close)]


async def test_a_late_return_for_a_timed_out_publish_does_not_mark_the_next_one() -> None:
    connection, _ = await opened(timeout_s=0.05)
    first = connection.publish("events", "task.updated", properties("event-1"), b"{}")
    assert isinstance(await settled(first), TimeoutError)
    retry = connection.publish("events", "task.updated", properties("event-1"), b"{}")
    receive(
        connection,
        spec.Basic.Return(312, "NO_ROUTE", "events", "task.updated"),
        ContentHeader(body_size=2, properties=properties("event-1")),
        ContentBody(b"{}"),
        spec.Basic.Ack(1),
        spec.Basic.Ack(2),
    )

    assert await settled(retry) is None


async def test_an_unroutable_retry_is_not_confirmed_in_place_of_its_timed_out_original() -> None:
    connection, _ = await opened(timeout_s=0.05)
    first = connection.publish("events", "task.updated", properties("event-1"), b"{}")
    assert isinstance(await settled(first), TimeoutError)
    retry = connection.publish("events", "task.updated", properties("event-1"), b"{}")
    returned = (
        spec.Basic.Return(312, "NO_ROUTE", "events", "task.updated"),
        ContentHeader(body_size=2, properties=properties("event-1")),
        ContentBody(b"{}"),
    )
    receive(connection, spec.Basic.Ack(1), *returned, spec.Basic.Ack(2))

    assert isinstance(await settled(retry), Returned)


async def test_the_answer_to_a_cancelled_call_is_not_taken_by_the_next() -> None:
    connection, _ = await opened()
    qos = asyncio.create_task(connection.qos(10))
    await asyncio.sleep(0)
    qos.cancel()
    consuming = asyncio.create_task(connection.consume("queue", lambda _: None))
    await asyncio.sleep(0)
    receive(connection, spec.Basic.QosOk(), spec.Basic.ConsumeOk("ctag-1"))

    assert await asyncio.wait_for(consuming, 1) == "ctag-1"
    assert not connection.is_closed


async def test_an_answer_of_the_wrong_kind_fails_the_call_and_closes_as_unexpected() -> None:
    connection, transport = await opened()
    consuming = asyncio.create_task(connection.consume("queue", lambda _: None))
    await asyncio.sleep(0)
    receive(connection, spec.Queue.DeclareOk("queue", 0, 0))

    with pytest.raises(ConnectionLost, match=r"Queue\.DeclareOk.*Basic\.Consume"):
        await asyncio.wait_for(consuming, 1)
    assert [close.reply_code for close in closes(transport)] == [505]


async def test_a_method_nobody_asked_for_closes_the_connection_as_unexpected() -> None:
    connection, transport = await opened()
    reasons: list[ConnectionLost] = []
    connection.on_lost.append(reasons.append)
    receive(connection, spec.Queue.DeclareOk("queue", 0, 0))

    assert connection.is_closed
    assert "Queue.DeclareOk" in str(reasons[0])
    assert [close.reply_code for close in closes(transport)] == [505]


def handshake_answers(mechanisms: str = "PLAIN AMQPLAIN", heartbeat: int = 60) -> list[Any]:
    return [
        (spec.Connection.Start(mechanisms=mechanisms, locales="en_US"), 0),
        (spec.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=heartbeat), 0),
        (spec.Connection.OpenOk(), 0),
        (spec.Channel.OpenOk(), CHANNEL),
        (spec.Confirm.SelectOk(), CHANNEL),
    ]


async def handshake(url: str, answers: list[Any], heartbeat_s: int | None = 10) -> Transport:
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=5)
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    opening = asyncio.create_task(amqp_handshake(connection, URL(url), "taskhook", heartbeat_s))
    for answer, channel in answers:
        await asyncio.sleep(0)
        if opening.done():
            break
        receive(connection, answer, channel=channel)
    await asyncio.wait_for(opening, 1)
    return transport


async def test_certificate_authentication_sends_external_with_an_empty_response() -> None:
    transport = await handshake(
        "amqps://broker/?auth=external", handshake_answers("PLAIN AMQPLAIN EXTERNAL")
    )

    start_ok = transport.frames()[0]
    assert (start_ok.mechanism, start_ok.response) == ("EXTERNAL", "")


async def test_a_mechanism_the_broker_does_not_offer_is_refused_naming_what_it_offers() -> None:
    with pytest.raises(OpeningRefused, match=r"EXTERNAL.*PLAIN AMQPLAIN"):
        await handshake("amqps://broker/?auth=external", handshake_answers("PLAIN AMQPLAIN"))


async def test_an_unknown_mechanism_in_the_url_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ConnectionLost, match="auth=kerberos"):
        await handshake("amqp://broker/?auth=kerberos", handshake_answers())


@pytest.mark.parametrize(
    ("ours", "brokers", "agreed"),
    [(None, 60, 60), (0, 60, 0), (10, 60, 10), (10, 0, 10), (0, 0, 0)],
    ids=["none-asked", "turned-off", "ours-lower", "broker-none", "both-off"],
)
async def test_heartbeat_zero_in_the_url_turns_heartbeats_off(
    ours: int | None, brokers: int, agreed: int
) -> None:
    transport = await handshake("amqp://broker/", handshake_answers(heartbeat=brokers), ours)

    assert transport.frames()[1].heartbeat == agreed


@pytest.mark.parametrize(
    ("brokers", "agreed"), [(0, 131072), (4096, 4096), (1048576, 131072), (131072, 131072)]
)
async def test_frame_max_is_agreed_within_our_own_limit(brokers: int, agreed: int) -> None:
    answers = handshake_answers()
    answers[1] = (spec.Connection.Tune(channel_max=0, frame_max=brokers, heartbeat=0), 0)
    transport = await handshake("amqp://broker/", answers)

    assert transport.frames()[1].frame_max == agreed


async def test_a_frame_max_below_the_protocols_minimum_is_refused() -> None:
    answers = handshake_answers()
    answers[1] = (spec.Connection.Tune(channel_max=0, frame_max=512, heartbeat=0), 0)
    with pytest.raises(ConnectionLost, match="frame_max of 512"):
        await handshake("amqp://broker/", answers)


async def test_a_frame_larger_than_frame_max_is_refused_without_waiting_for_it() -> None:
    connection, transport = await opened()
    connection._frame_max = 4096
    future = connection.publish("events", "k", properties("m"), b"{}")
    connection.data_received(struct.pack(">BHI", 3, CHANNEL, 0xFFFFFFF0) + b"x" * 100)

    error = await settled(future)
    assert isinstance(error, ConnectionLost)
    assert "frame_max" in str(error)
    assert [close.reply_code for close in closes(transport)] == [501]


async def test_a_server_that_speaks_another_amqp_is_named_as_such() -> None:
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=5)
    connection.connection_made(Transport(connection))  # type: ignore[arg-type]
    connection.data_received(b"AMQP\x00\x01\x00\x00")  # AMQP 1.0's header

    assert str(connection.reason) == (
        "the broker sent a protocol header for AMQP 1.0.0: it does not speak AMQP 0-9-1"
    )


async def test_a_frame_without_its_end_marker_closes_as_a_frame_error() -> None:
    connection, transport = await opened()
    frame = bytearray(codec.marshal(spec.Basic.Ack(1), CHANNEL))
    frame[-1] = 0
    connection.data_received(bytes(frame))

    assert connection.is_closed
    assert "end marker" in str(connection.reason)
    assert [close.reply_code for close in closes(transport)] == [501]


async def test_after_a_protocol_error_the_socket_waits_for_close_ok_then_closes() -> None:
    connection, transport = await opened()
    receive(connection, ContentBody(b"{}"))
    assert connection.is_closed
    assert not transport.closed  # the broker's Close-Ok is awaited, not cut off
    connection.data_received(CLOSE_OK)

    assert transport.closed
    assert not transport.aborted


async def test_after_a_protocol_error_a_silent_broker_is_cut_off() -> None:
    connection, transport = await opened()
    connection._close_wait_s = 0.05
    receive(connection, ContentBody(b"{}"))
    await asyncio.sleep(0.1)

    assert transport.aborted


async def test_the_close_ok_answering_the_brokers_close_is_flushed_not_discarded() -> None:
    connection, transport = await opened()
    receive(connection, spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0), channel=0)

    assert isinstance(transport.frames()[-1], spec.Connection.CloseOk)
    assert transport.closed
    assert not transport.aborted


async def test_close_sends_close_and_ends_on_close_ok() -> None:
    connection, transport = await opened()
    closing = asyncio.create_task(connection.close(1))
    await asyncio.sleep(0)
    assert [close.reply_code for close in closes(transport)] == [200]
    connection.data_received(CLOSE_OK)
    await asyncio.wait_for(closing, 1)

    assert transport.closed
    assert not transport.aborted


async def test_close_to_a_silent_broker_gives_up_after_its_timeout() -> None:
    connection, transport = await opened()
    await asyncio.wait_for(connection.close(0.05), 1)

    assert transport.aborted
    assert connection.is_closed


async def test_nothing_is_sent_after_our_own_close() -> None:
    connection, transport = await opened()
    delivered: list[Delivered] = []
    connection._on_delivery = delivered.append
    receive(connection, *deliver(1, b"{}"))
    closing = asyncio.create_task(connection.close(1))
    await asyncio.sleep(0)
    with pytest.raises(ConnectionLost):
        await delivered[0].ack()
    receive(connection, *deliver(2, b"{}"))  # crossed our Close: discarded, not handed on
    connection._heartbeat_s = 0.01
    await asyncio.sleep(0.1)
    connection.data_received(CLOSE_OK)
    await asyncio.wait_for(closing, 1)

    assert [type(frame) for frame in transport.frames()] == [spec.Connection.Close]
    assert [message.delivery_tag for message in delivered] == [1]


async def test_a_deliver_pamqp_cannot_decode_is_refused_alone() -> None:
    connection, transport = await opened()
    delivered: list[Delivered] = []
    refused: list[int] = []
    connection._on_delivery = delivered.append
    connection.on_unreadable.append(refused.append)
    method = codec.marshal(spec.Basic.Deliver("ctag", 5, False, "events", "ab"), CHANNEL)
    connection.data_received(method.replace(b"\x02ab", b"\x02\xff\xfe"))  # not UTF-8
    receive(connection, *deliver(5, b"{}")[1:], *deliver(6, b"{}"))
    await asyncio.sleep(0)

    assert not connection.is_closed
    assert refused == [5]
    assert [message.delivery_tag for message in delivered] == [6]
    nack = transport.frames()[-1]
    assert isinstance(nack, spec.Basic.Nack)
    assert (nack.delivery_tag, nack.requeue) == (5, False)


async def test_a_header_too_short_after_an_unreadable_deliver_ends_the_connection() -> None:
    connection, _ = await opened()
    method = codec.marshal(spec.Basic.Deliver("ctag", 5, False, "events", "ab"), CHANNEL)
    connection.data_received(method.replace(b"\x02ab", b"\x02\xff\xfe"))
    connection.data_received(struct.pack(">BHI", 2, CHANNEL, 4) + b"\x00\x3c\x00\x00\xce")

    assert connection.is_closed
    assert "pamqp cannot read" in str(connection.reason)


async def test_a_deliver_before_the_last_content_ended_is_unexpected() -> None:
    connection, transport = await opened()
    connection._on_delivery = lambda _: None
    receive(connection, *deliver(1, b"{}")[:1], *deliver(2, b"{}"))

    assert connection.is_closed
    assert [close.reply_code for close in closes(transport)] == [505]


async def test_a_full_write_buffer_refuses_publishes_until_it_drains() -> None:
    connection, _ = await opened()
    connection.pause_writing()
    with pytest.raises(WriteBlocked):
        connection.publish("events", "k", properties("m"), b"{}")
    connection.resume_writing()
    future = connection.publish("events", "k", properties("m"), b"{}")
    receive(connection, spec.Basic.Ack(1))

    assert await settled(future) is None
