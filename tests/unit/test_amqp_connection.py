"""taskhook's AMQP connection, frame by frame, with no socket: which publish each broker answer
settles, how deliveries are put together and settled, and that nothing waits forever. Against
the real broker it is proven by tests/integration: every publish of the ingest and every
delivery to a consumer goes through it."""

import asyncio
import struct
from typing import Any

import pytest
from pamqp import commands as spec
from pamqp import frame as codec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat
from yarl import URL

from taskhook.broker.amqp import (
    CHANNEL,
    AmqpConnection,
    ConnectionLost,
    Delivered,
    Nacked,
    Returned,
)
from taskhook.broker.amqp.opening import handshake
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.core.errors import PublishFailed
from taskhook.core.message import OutgoingMessage


class Transport:
    """What the connection writes, frame by frame; once closed, it tells ``protocol`` (if
    given) as asyncio does, on the loop's next turn."""

    def __init__(self, protocol: AmqpConnection | None = None) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False  # closed without flushing what was written
        self.protocol = protocol

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.close()
        self.aborted = True

    def close(self) -> None:
        if not self.closed and self.protocol is not None:
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)
        self.closed = True

    def frames(self) -> list[Any]:
        data, found = b"".join(self.writes[1:]), []  # after the protocol header
        while data:
            used, _, frame = codec.unmarshal(data)
            found.append(frame)
            data = data[used:]
        return found


async def opened(timeout_s: float = 5.0) -> tuple[AmqpConnection, Transport]:
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=timeout_s)
    transport = Transport(connection)
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection._calls.clear()  # as after the handshake: Connection.Start is not awaited
    return connection, transport


def properties(message_id: str) -> spec.Basic.Properties:
    return spec.Basic.Properties(message_id=message_id, delivery_mode=2)


def receive(connection: AmqpConnection, *frames: Any, channel: int = CHANNEL) -> None:
    connection.data_received(b"".join(codec.marshal(frame, channel) for frame in frames))


async def settled(future: "asyncio.Future[None]") -> BaseException | None:
    try:
        await asyncio.wait_for(future, 1)
    except (Exception, asyncio.CancelledError) as e:
        return e
    return None


async def test_publishes_made_in_one_turn_leave_in_one_write_in_order() -> None:
    connection, transport = await opened()
    for n in range(3):
        connection.publish("events", f"task.{n}", properties(f"m{n}"), b"body %d" % n)
    assert len(transport.writes) == 1  # the protocol header only, so far
    await asyncio.sleep(0)

    assert len(transport.writes) == 2
    frames = transport.frames()
    assert [type(frame) for frame in frames] == [
        spec.Basic.Publish,
        ContentHeader,
        ContentBody,
    ] * 3
    assert [frame.routing_key for frame in frames[::3]] == ["task.0", "task.1", "task.2"]
    assert all(frame.mandatory for frame in frames[::3])
    assert [frame.properties.message_id for frame in frames[1::3]] == ["m0", "m1", "m2"]
    assert [frame.value for frame in frames[2::3]] == [b"body 0", b"body 1", b"body 2"]


@pytest.mark.parametrize(
    ("answers", "outcomes"),
    [
        ([spec.Basic.Ack(1), spec.Basic.Ack(2), spec.Basic.Ack(3)], [None, None, None]),
        ([spec.Basic.Ack(2, multiple=True), spec.Basic.Ack(3)], [None, None, None]),
        ([spec.Basic.Ack(3, multiple=True)], [None, None, None]),
        ([spec.Basic.Ack(2), spec.Basic.Ack(1), spec.Basic.Ack(3)], [None, None, None]),
        ([spec.Basic.Nack(2), spec.Basic.Ack(3, multiple=True)], [None, Nacked, None]),
        ([spec.Basic.Nack(3, multiple=True)], [Nacked, Nacked, Nacked]),
        ([spec.Basic.Ack(1), spec.Basic.Ack(1), spec.Basic.Ack(9)], [None, "waiting", "waiting"]),
    ],
    ids=[
        "one-by-one",
        "multiple-then-one",
        "all-at-once",
        "out-of-order",
        "one-nacked",
        "all-nacked",
        "repeated-and-unknown-tags-ignored",
    ],
)
async def test_each_confirm_settles_exactly_the_publishes_it_names(
    answers: list[Any], outcomes: list[Any]
) -> None:
    connection, _ = await opened()
    futures = [connection.publish("events", "k", properties(f"m{n}"), b"{}") for n in range(3)]
    receive(connection, *answers)
    await asyncio.sleep(0)

    for future, outcome in zip(futures, outcomes, strict=True):
        if outcome == "waiting":
            assert not future.done()
        elif outcome is None:
            assert await settled(future) is None
        else:
            assert isinstance(await settled(future), outcome)


async def test_a_returned_message_fails_with_returned_once_its_ack_arrives() -> None:
    connection, _ = await opened()
    kept = connection.publish("", "queue", properties("same"), b"{}")
    returned = connection.publish("", "gone", properties("other"), b"{}")
    receive(
        connection,
        spec.Basic.Return(312, "NO_ROUTE", "", "gone"),
        ContentHeader(body_size=2, properties=properties("other")),
        ContentBody(b"{}"),
    )
    assert not returned.done()  # the ack that follows settles it
    receive(connection, spec.Basic.Ack(2, multiple=True))

    assert await settled(kept) is None
    assert isinstance(await settled(returned), Returned)


async def test_a_return_fails_the_publish_it_names_not_another_with_the_same_id() -> None:
    connection, _ = await opened()
    # The same event, kept as refused (default exchange) and published (events exchange).
    kept = connection.publish("", "livepeer.tasks.rejected", properties("event-1"), b"{}")
    returned = connection.publish("events", "task.updated", properties("event-1"), b"{}")
    receive(
        connection,
        spec.Basic.Return(312, "NO_ROUTE", "events", "task.updated"),
        ContentHeader(body_size=2, properties=properties("event-1")),
        ContentBody(b"{}"),
        spec.Basic.Ack(2),
        spec.Basic.Ack(1),
    )

    assert isinstance(await settled(returned), Returned)
    assert await settled(kept) is None


async def test_frames_split_anywhere_across_reads_are_put_back_together() -> None:
    connection, _ = await opened()
    futures = [connection.publish("events", "k", properties(f"m{n}"), b"{}") for n in range(2)]
    data = codec.marshal(spec.Basic.Ack(1), CHANNEL) + codec.marshal(spec.Basic.Nack(2), CHANNEL)
    for byte in data:
        connection.data_received(bytes([byte]))

    assert await settled(futures[0]) is None
    assert isinstance(await settled(futures[1]), Nacked)


async def test_a_publish_unconfirmed_past_the_timeout_fails_and_a_late_ack_is_ignored() -> None:
    connection, _ = await opened(timeout_s=0.05)
    late = connection.publish("events", "k", properties("m"), b"{}")

    assert isinstance(await settled(late), TimeoutError)
    after = connection.publish("events", "k", properties("n"), b"{}")
    receive(connection, spec.Basic.Ack(2, multiple=True))
    assert await settled(after) is None


@pytest.mark.parametrize(
    ("frame", "channel", "answer", "refused"),
    [
        (
            spec.Channel.Close(404, "NOT_FOUND - no exchange", 60, 40),
            CHANNEL,
            spec.Channel.CloseOk,
            404,
        ),
        (spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0), 0, spec.Connection.CloseOk, 320),
    ],
)
async def test_the_broker_closing_fails_every_waiting_publish_with_its_reason(
    frame: Any, channel: int, answer: type, refused: int
) -> None:
    connection, transport = await opened()
    reasons: list[ConnectionLost] = []
    connection.on_lost.append(reasons.append)
    futures = [connection.publish("events", "k", properties(f"m{n}"), b"{}") for n in range(2)]
    await asyncio.sleep(0)
    receive(connection, frame, channel=channel)

    for future in futures:
        error = await settled(future)
        assert isinstance(error, ConnectionLost)
        assert error.refused is not None
        assert error.refused[0] == refused
    assert answer in [type(frame) for frame in transport.frames()]
    connection.data_received(codec.marshal(spec.Connection.CloseOk(), 0))  # if we closed too
    assert transport.closed
    assert connection.is_closed
    assert [reason.refused[0] for reason in reasons if reason.refused] == [refused]
    with pytest.raises(ConnectionLost):
        connection.publish("events", "k", properties("late"), b"{}")


async def test_a_lost_socket_fails_every_waiting_publish_as_interrupted() -> None:
    connection, _ = await opened()
    future = connection.publish("events", "k", properties("m"), b"{}")
    connection.connection_lost(ConnectionResetError())

    error = await settled(future)
    assert isinstance(error, ConnectionLost)
    assert error.refused is None


async def test_silence_longer_than_two_heartbeats_drops_the_connection() -> None:
    connection, transport = await opened()
    connection._heartbeat_s = 0.05
    future = connection.publish("events", "k", properties("m"), b"{}")

    error = await settled(future)
    assert isinstance(error, ConnectionLost)
    assert "heartbeat" in str(error)
    assert transport.closed


async def test_heartbeats_are_sent_while_idle_and_reads_keep_the_connection() -> None:
    connection, transport = await opened()
    connection._heartbeat_s = 0.1
    for _ in range(6):
        await asyncio.sleep(0.05)
        receive(connection, Heartbeat(), channel=0)
    assert not connection.is_closed
    assert any(isinstance(frame, Heartbeat) for frame in transport.frames())


async def test_blocked_and_unblocked_are_tracked() -> None:
    connection, _ = await opened()
    receive(connection, spec.Connection.Blocked("low on memory"), channel=0)
    assert connection.blocked
    receive(connection, spec.Connection.Unblocked(), channel=0)
    assert not connection.blocked


async def test_a_body_larger_than_a_frame_is_split_into_frames_of_the_agreed_size() -> None:
    connection, transport = await opened()
    connection._frame_max = 4096
    body = bytes(range(256)) * 40
    connection.publish("events", "k", properties("m"), body)
    await asyncio.sleep(0)

    chunks = [frame.value for frame in transport.frames() if isinstance(frame, ContentBody)]
    assert [len(chunk) for chunk in chunks] == [4088, 4088, len(body) - 2 * 4088]
    assert b"".join(chunks) == body


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (spec.Basic.Nack(1), "publish-nacked"),
        (spec.Channel.Close(404, "NOT_FOUND", 60, 40), "broker-unavailable"),
        (None, "publish-timeout"),
    ],
)
async def test_every_failure_reaches_the_caller_as_its_publish_cause(
    answer: Any, cause: str
) -> None:
    connection, _ = await opened(timeout_s=0.05)
    message = OutgoingMessage(routing_key="k", body=b"{}", message_id="m", type="task.updated")
    publishing = asyncio.create_task(confirm_or_fail(connection, "events", message))
    await asyncio.sleep(0)
    if answer is not None:
        receive(connection, answer)

    with pytest.raises(PublishFailed) as failed:
        await asyncio.wait_for(publishing, 1)
    assert failed.value.cause == cause


@pytest.mark.parametrize(
    ("ours", "brokers", "agreed"),
    [(10, 60, 10), (10, 0, 10), (None, 60, 60), (0, 60, 0), (30, 5, 5)],
)
async def test_the_handshake_agrees_a_heartbeat_and_ends_in_confirm_mode(
    ours: int | None, brokers: int, agreed: int
) -> None:
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=5)
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    url = URL("amqp://app:secret@broker/prod")
    opening = asyncio.create_task(handshake(connection, url, "taskhook", ours))

    answers = [
        (spec.Connection.Start(mechanisms="PLAIN", locales="en_US"), 0),
        (spec.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=brokers), 0),
        (spec.Connection.OpenOk(), 0),
        (spec.Channel.OpenOk(), CHANNEL),
        (spec.Confirm.SelectOk(), CHANNEL),
    ]
    for answer, channel in answers:
        await asyncio.sleep(0)
        receive(connection, answer, channel=channel)
    await asyncio.wait_for(opening, 1)

    sent = transport.frames()
    assert [type(frame) for frame in sent] == [
        spec.Connection.StartOk,
        spec.Connection.TuneOk,
        spec.Connection.Open,
        spec.Channel.Open,
        spec.Confirm.Select,
    ]
    assert sent[0].response == "\0app\0secret"
    assert sent[1].heartbeat == agreed
    assert sent[2].virtual_host == "prod"
    assert connection._heartbeat_s == agreed


def deliver(tag: int, body: bytes, *, frame_max: int = 131072, **properties: Any) -> list[Any]:
    frames: list[Any] = [
        spec.Basic.Deliver("ctag", tag, False, "events", "task.updated.upload"),
        ContentHeader(body_size=len(body), properties=spec.Basic.Properties(**properties)),
    ]
    room = frame_max - 8
    frames += [ContentBody(body[start : start + room]) for start in range(0, len(body), room)]
    return frames


async def test_a_delivery_in_several_frames_arrives_whole_with_its_properties() -> None:
    connection, _ = await opened()
    delivered: list[Delivered] = []
    connection._on_delivery = delivered.append
    body = bytes(range(256)) * 100
    receive(connection, *deliver(7, body, frame_max=4096, message_id="m", headers={"a": 1}))
    receive(connection, *deliver(8, b""))

    assert [message.delivery_tag for message in delivered] == [7, 8]
    assert delivered[0].body == body
    assert delivered[0].routing_key == "task.updated.upload"
    assert delivered[0].message_id == "m"
    assert dict(delivered[0].headers) == {"a": 1}
    assert delivered[1].body == b""


async def test_settling_writes_the_ack_or_nack_the_broker_expects() -> None:
    connection, transport = await opened()
    delivered: list[Delivered] = []
    connection._on_delivery = delivered.append
    receive(connection, *deliver(1, b"{}"), *deliver(2, b"{}"), *deliver(3, b"{}"))
    await delivered[0].nack(requeue=True)
    await delivered[1].nack(requeue=False)
    await delivered[2].ack(multiple=True)
    await asyncio.sleep(0)

    sent = transport.frames()
    assert [(type(f).__name__, f.delivery_tag) for f in sent] == [
        ("Nack", 1),
        ("Nack", 2),
        ("Ack", 3),
    ]
    assert [sent[0].requeue, sent[1].requeue, sent[2].multiple] == [True, False, True]


async def test_the_broker_cancelling_the_consumer_drops_the_connection_and_settling_fails() -> None:
    connection, _ = await opened()
    delivered: list[Delivered] = []
    connection._on_delivery = delivered.append
    receive(connection, *deliver(1, b"{}"))
    receive(connection, spec.Basic.Cancel("ctag"))

    assert connection.is_closed
    with pytest.raises(ConnectionLost):
        await delivered[0].ack()


@pytest.mark.parametrize(
    "frames",
    [
        [ContentBody(b"{}")],
        [ContentHeader(body_size=2, properties=spec.Basic.Properties())],
        [spec.Basic.Deliver("ctag", 1, False, "", "k"), ContentBody(b"{}")],
    ],
    ids=["body-alone", "header-alone", "body-before-header"],
)
async def test_content_out_of_place_is_a_protocol_failure(frames: list[Any]) -> None:
    connection, transport = await opened()
    connection._on_delivery = lambda _: None
    receive(connection, *frames)

    assert connection.is_closed
    close = transport.frames()[-1]
    assert isinstance(close, spec.Connection.Close)
    assert close.reply_code == 505  # UNEXPECTED_FRAME


async def test_a_delivery_whose_properties_cannot_be_read_is_refused_alone() -> None:
    connection, transport = await opened()
    delivered: list[Delivered] = []
    refused: list[int] = []
    connection._on_delivery = delivered.append
    connection.on_unreadable.append(refused.append)
    # message-id "x", then a timestamp in microseconds: a year past 9999.
    properties = struct.pack(">HB", 0x0080 | 0x0040, 1) + b"x" + struct.pack(">Q", 1 << 60)
    header = struct.pack(">HHQ", 60, 0, 2) + properties
    receive(connection, spec.Basic.Deliver("ctag", 1, False, "events", "task.updated.upload"))
    connection.data_received(struct.pack(">BHI", 2, CHANNEL, len(header)) + header + b"\xce")
    receive(connection, ContentBody(b"{}"), *deliver(2, b"{}"))
    await asyncio.sleep(0)

    assert not connection.is_closed
    assert refused == [1]
    assert [message.delivery_tag for message in delivered] == [2]
    nack = transport.frames()[-1]
    assert isinstance(nack, spec.Basic.Nack)
    assert (nack.delivery_tag, nack.requeue) == (1, False)


async def test_a_call_the_broker_does_not_answer_drops_the_connection_in_time() -> None:
    connection = AmqpConnection(
        asyncio.get_running_loop(), publish_timeout_s=5, call_timeout_s=0.05
    )
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection._calls.clear()

    with pytest.raises(ConnectionLost, match="Qos"):
        await asyncio.wait_for(connection.qos(10), 1)
    assert connection.is_closed
    assert transport.closed
