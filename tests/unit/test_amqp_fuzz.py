"""Whatever bytes the broker (or anything pretending to be it) sends, taskhook's AMQP connection
never raises out of ``data_received``, never resolves a future twice (asyncio would raise),
leaves none waiting once the connection ends, and, when it ends the connection itself, says
what was wrong. Streams of plausible frames, then truncated, split anywhere and corrupted, and
streams of random bytes."""

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamqp import commands as spec
from pamqp import frame as codec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from taskhook.broker.amqp import (
    CHANNEL,
    AmqpConnection,
    ConnectionLost,
    Delivered,
    Nacked,
    Returned,
)
from tests.unit.test_amqp_connection import Transport, properties

PUBLISHES = 4
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def content(method: Any, body: bytes) -> list[tuple[Any, int]]:
    header = ContentHeader(body_size=len(body), properties=properties("m"))
    return [(method, CHANNEL), (header, CHANNEL), (ContentBody(body), CHANNEL)]


tags = st.integers(min_value=0, max_value=PUBLISHES + 1)
# A Basic.Deliver whose routing key is not UTF-8: refused alone, its content skipped.
UNREADABLE_DELIVER = codec.marshal(
    spec.Basic.Deliver("ctag", 1, False, "events", "ab"), CHANNEL
).replace(b"\x02ab", b"\x02\xff\xfe")
frames = st.one_of(
    st.builds(lambda t, m: [(spec.Basic.Ack(t, m), CHANNEL)], tags, st.booleans()),
    st.builds(lambda t, m: [(spec.Basic.Nack(t, m), CHANNEL)], tags, st.booleans()),
    st.builds(
        lambda t, b: content(spec.Basic.Deliver("ctag", t, False, "events", "k"), b),
        tags,
        st.binary(max_size=64),
    ),
    st.builds(
        lambda b: content(spec.Basic.Return(312, "NO_ROUTE", "events", "k"), b),
        st.binary(max_size=64),
    ),
    st.just([(spec.Basic.QosOk(), CHANNEL)]),
    st.just([(spec.Basic.ConsumeOk("ctag"), CHANNEL)]),
    st.just([(spec.Connection.Blocked("alarm"), 0), (spec.Connection.Unblocked(), 0)]),
    st.just([(Heartbeat(), 0)]),
    st.just([(spec.Channel.Close(406, "PRECONDITION_FAILED", 60, 40), CHANNEL)]),
    st.just([(spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0), 0)]),
    st.just([(spec.Connection.CloseOk(), 0)]),
    st.just([(spec.Basic.Cancel("ctag"), CHANNEL)]),
)


def marshalled(parts: list[list[tuple[Any, int]]]) -> bytes:
    return b"".join(codec.marshal(frame, channel) for part in parts for frame, channel in part)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Plausible frames, perhaps cut short and with bytes changed; or noise."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    data = bytearray(marshalled(draw(st.lists(frames, max_size=12))))
    if draw(st.booleans()):
        data[0:0] = UNREADABLE_DELIVER
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@st.composite
def split(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


async def feed(chunks: list[bytes], with_call: bool) -> None:
    connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=60)
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection._calls.clear()
    delivered: list[Delivered] = []
    connection._on_delivery = delivered.append
    futures = [
        connection.publish("events", "k", properties(f"m{n}"), b"{}") for n in range(PUBLISHES)
    ]
    call = asyncio.ensure_future(connection.qos(1)) if with_call else None
    await asyncio.sleep(0)

    for chunk in chunks:
        connection.data_received(chunk)  # raising here fails the test
    ended_by_us = connection.reason
    connection.connection_lost(None)
    await asyncio.sleep(0)

    assert all(future.done() for future in futures)
    assert call is None or call.done()
    if ended_by_us is not None:
        assert str(ended_by_us)  # a reason that says something
    for future in [*futures, *([call] if call else [])]:
        error = future.exception()  # each publish confirmed, refused, or failed with the end
        assert error is None or isinstance(error, ConnectionLost | Nacked | Returned)


@FUZZ
@given(data=st.data(), with_call=st.booleans())
def test_no_stream_of_bytes_breaks_the_connections_promises(data: Any, with_call: bool) -> None:
    """The checks are in ``feed``: nothing raised out of ``data_received``, no future resolved
    twice or left waiting once the connection ended."""
    stream = data.draw(streams())
    chunks = data.draw(split(stream))
    asyncio.run(feed(chunks, with_call))


@FUZZ
@given(data=st.data())
def test_a_stream_cut_anywhere_ends_with_a_reason_naming_what_was_wrong(data: Any) -> None:
    """A frame whose end marker was overwritten, or whose size is too large, is named."""
    stream = bytearray(marshalled(data.draw(st.lists(frames, min_size=1, max_size=6))))
    stream[-1] = data.draw(st.integers(0, 255).filter(lambda b: b != 0xCE))

    async def run() -> None:
        connection = AmqpConnection(asyncio.get_running_loop(), publish_timeout_s=60)
        connection.connection_made(Transport())  # type: ignore[arg-type]
        connection._calls.clear()
        connection._on_delivery = lambda _: None
        connection.data_received(bytes(stream))
        reason = connection.reason
        assert reason is not None
        assert str(reason).startswith(
            ("the broker sent ", "the broker closed", "the broker cancelled", "the connection")
        )

    asyncio.run(run())
