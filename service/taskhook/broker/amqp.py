"""taskhook's own AMQP connection: one channel, publishes confirmed, deliveries acknowledged.

The ingest publishes on it, and the consumers consume (and forward retries) on it; the operator
tools, which run once, use aio-pika. Why not aiormq's channel, as aio-pika uses it: measured
(docs/performance.md), aiormq spends about 100 µs of CPU on each confirmed publish, and more
with more publishes waiting (a lock, a timeout scope and a queue hop to a writer task per
publish; an ack handler that walks every pending confirm). At the ingest's rate that was a third
of a request. This connection spends about 24 µs, the same at 16 or 64 in flight, because:

- every publish made in one turn of the event loop leaves in one socket write;
- the method frame is encoded once per exchange and routing key;
- confirms wait in a queue in delivery-tag order: an ack pops from its front, one timer expires
  what waited too long, and nothing per publish is armed or cancelled.

What it does not hand-write: every frame is encoded and decoded by pamqp (aiormq's own codec),
except that an ack, the one frame that arrives once per publish, is read in place.

Deliveries are read off the same buffer, handed to the consumer's callback as they complete,
without a task or a queue in between, and acknowledged by frames that leave with the next write.

The contract: ``publish`` returns a future that resolves once the broker confirmed the message,
or fails with ``Returned`` (mandatory and unroutable), ``Nacked``, ``TimeoutError`` (no confirm
within the connection's publish timeout), or ``ConnectionLost`` (the connection or its channel
ended first; ``refused`` says when the broker closed it, and why). Nothing resolves twice, and
no future is left waiting once the connection is gone.
"""

import asyncio
import ssl
import struct
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, cast

from pamqp import commands as spec
from pamqp import frame as codec
from pamqp.base import Frame
from pamqp.body import ContentBody
from pamqp.common import FieldTable
from pamqp.constants import FRAME_END, FRAME_END_CHAR, FRAME_HEADER_SIZE
from pamqp.exceptions import PAMQPException
from pamqp.header import ContentHeader, ProtocolHeader
from pamqp.heartbeat import Heartbeat
from yarl import URL

CHANNEL: Final = 1  # the one channel this connection opens
_FRAME: Final = struct.Struct(">BHI")  # type, channel, size
_ACK_ARGS: Final = struct.Struct(">QB")  # delivery tag, multiple
_ACK_PREFIX: Final = bytes((1, 0, CHANNEL, 0, 0, 0, 13, 0, 60, 0, 80))  # a method frame: Basic.Ack
_CONTENT_HEADER: Final = struct.Struct(">HHQ")  # class, weight, body size
_ACK_METHOD: Final = bytes((0, 60, 0, 80))  # Basic.Ack, as the method frame's payload begins
_NACK_METHOD: Final = bytes((0, 60, 0, 120))  # Basic.Nack (bits: multiple 1, requeue 2)
_SETTLE_FRAME_HEAD: Final = bytes((1, 0, CHANNEL, 0, 0, 0, 13))  # a method frame of 13 bytes
_METHOD, _HEADER, _BODY = 1, 2, 3
_HEARTBEAT_FRAME: Final = Heartbeat().marshal()
_DEFAULT_PORTS: Final = {"amqp": 5672, "amqps": 5671}
# How often the connection looks at its clock: confirms that waited too long, heartbeats due.
TICK_S: Final = 0.05
# The longest a synchronous method (a declaration, qos, consume, cancel) waits for its answer.
CALL_TIMEOUT_S: Final = 5.0
REPLY_SUCCESS: Final = 200
# Prepared Basic.Publish frames kept, one per exchange and routing key: far more than the event
# names and task types make, but a bound, since a signed sender chooses the event name.
MAX_PREPARED_FRAMES: Final = 1024


class ConnectionLost(ConnectionError):
    """The connection ended before the broker confirmed. ``refused`` holds the broker's reply
    code and text when the broker closed the connection or the channel itself."""

    def __init__(self, reason: str, refused: tuple[int, str] | None = None) -> None:
        super().__init__(reason)
        self.refused = refused


class OpeningRefused(ConnectionLost):
    """The broker closed the connection while it was being opened: with 403 the credentials,
    with 530 the virtual host."""


class Returned(Exception):
    """The broker returned a mandatory message: no queue was bound for it."""


class Nacked(Exception):
    """The broker refused the message (a queue at its limit, for one)."""


class Delivered:
    """A message delivered to this connection's consumer, and the way to settle it."""

    __slots__ = ("_connection", "body", "delivery_tag", "properties", "redelivered", "routing_key")

    def __init__(
        self,
        connection: "AmqpConnection",
        deliver: spec.Basic.Deliver,
        properties: spec.Basic.Properties,
        body: bytes,
    ) -> None:
        self._connection = connection
        self.delivery_tag: int = deliver.delivery_tag or 0
        self.redelivered = bool(deliver.redelivered)
        self.routing_key: str = deliver.routing_key or ""
        self.properties = properties
        self.body = body

    @property
    def message_id(self) -> str | None:
        return self.properties.message_id

    @property
    def headers(self) -> Mapping[str, object]:
        return self.properties.headers or {}

    async def ack(self, *, multiple: bool = False) -> None:
        """Acknowledge it (with ``multiple``, every unsettled one delivered before it too).
        Raises ``ConnectionLost`` if the connection is gone: the broker delivers it again."""
        self._connection.settle(_ACK_METHOD, self.delivery_tag, int(multiple))

    async def nack(self, *, requeue: bool = True) -> None:
        """Give it back to its queue (``requeue``), or drop it."""
        self._connection.settle(_NACK_METHOD, self.delivery_tag, 2 if requeue else 0)


class _Pending:
    """A publish waiting for its confirm; ``key`` is where it went and its id, which is how a
    returned message is told apart."""

    __slots__ = ("deadline", "future", "key", "returned", "tag")

    def __init__(
        self,
        tag: int,
        future: "asyncio.Future[None]",
        deadline: float,
        key: tuple[str, str, str | None],
    ) -> None:
        self.tag = tag
        self.future = future
        self.deadline = deadline
        self.key = key
        self.returned = False


class AmqpConnection(asyncio.Protocol):
    """One AMQP 0-9-1 connection with one channel in confirm mode. Made by ``open_amqp``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        publish_timeout_s: float,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self._loop = loop
        self._publish_timeout_s = publish_timeout_s
        self._call_timeout_s = call_timeout_s
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._outgoing: list[bytes] = []
        self._flush_scheduled = False
        self._pending: deque[_Pending] = deque()
        self._last_tag = 0
        self._publish_frames: dict[tuple[str, str, bool], bytes] = {}
        self._frame_max = 131072
        self._heartbeat_s = 0.0
        self._last_read = self._last_write = loop.time()
        self._reply: asyncio.Future[Frame] | None = None
        # A message's content arriving frame by frame: what it follows, its header, its body.
        self._content_for: spec.Basic.Deliver | spec.Basic.Return | None = None
        self._content_header: ContentHeader | None = None
        self._content: list[bytes] = []
        self._content_left = 0
        self._on_delivery: Callable[[Delivered], None] | None = None
        self._skipping = 0  # body bytes still to come of a delivery refused unread
        self.on_unreadable: list[Callable[[int], None]] = []
        """Called with the delivery tag of a message refused because it could not be read."""
        self._ticker: asyncio.TimerHandle | None = None
        self._blocked = False
        self._closing = False
        self._lost: ConnectionLost | None = None
        self._ended = asyncio.Event()
        self.on_lost: list[Callable[[ConnectionLost], None]] = []
        """Called once the connection is gone, for whatever reason, with that reason."""

    # -- what the publisher sees ---------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._lost is not None or self._closing

    @property
    def blocked(self) -> bool:
        """True while the broker blocks publishing (a memory or disk alarm)."""
        return self._blocked

    @property
    def reason(self) -> ConnectionLost | None:
        """Why the connection ended, once it has."""
        return self._lost

    def publish(
        self,
        exchange: str,
        routing_key: str,
        properties: spec.Basic.Properties,
        body: bytes,
        *,
        mandatory: bool = True,
    ) -> "asyncio.Future[None]":
        """Send a message; the future resolves when the broker confirms it (see the module)."""
        if self._lost is not None or self._closing:
            raise self._gone()
        key = (exchange, routing_key, mandatory)
        method = self._publish_frames.get(key)
        if method is None:
            publish = spec.Basic.Publish(
                exchange=exchange, routing_key=routing_key, mandatory=mandatory
            )
            if len(self._publish_frames) >= MAX_PREPARED_FRAMES:  # keys come from the sender
                self._publish_frames.clear()
            method = self._publish_frames[key] = codec.marshal(publish, CHANNEL)
        header = _CONTENT_HEADER.pack(60, 0, len(body)) + properties.marshal()
        outgoing = self._outgoing
        outgoing.append(method)
        outgoing.append(_FRAME.pack(_HEADER, CHANNEL, len(header)) + header + FRAME_END_CHAR)
        room = self._frame_max - FRAME_HEADER_SIZE - 1
        for start in range(0, len(body), room):
            chunk = body[start : start + room]
            outgoing.append(_FRAME.pack(_BODY, CHANNEL, len(chunk)) + chunk + FRAME_END_CHAR)
        self._last_tag += 1
        future: asyncio.Future[None] = self._loop.create_future()
        deadline = self._loop.time() + self._publish_timeout_s
        where = (exchange, routing_key, properties.message_id)
        self._pending.append(_Pending(self._last_tag, future, deadline, where))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    async def call(self, method: Frame, channel: int = CHANNEL) -> Frame:
        """Send a synchronous method (a declaration, qos, consume, cancel) and return the broker's
        reply; one at a time.

        Raises ``ConnectionLost`` if the broker refuses it (it closes the channel, and with it
        this connection), or does not answer within the call timeout: a silent broker must not
        hold whoever waits, so the connection is dropped and the next session starts afresh.
        """
        if self._lost is not None:
            raise self._gone()
        if self._reply is not None:
            raise RuntimeError("one call at a time")
        self._reply = reply = self._loop.create_future()
        self._send(method, channel)
        try:
            async with asyncio.timeout(self._call_timeout_s):
                return cast(Frame, await reply)
        except TimeoutError:
            waited = f"{self._call_timeout_s:g} s"
            self._lose(ConnectionLost(f"no answer to {type(method).__name__} within {waited}"))
            raise self._gone() from None
        finally:
            self._reply = None

    async def qos(self, prefetch_count: int) -> None:
        """Deliver at most ``prefetch_count`` messages not yet settled."""
        await self.call(spec.Basic.Qos(prefetch_count=prefetch_count))

    async def consume(self, queue: str, on_delivery: Callable[[Delivered], None]) -> str:
        """Consume ``queue`` (acknowledged deliveries), handing each message to ``on_delivery``
        as it completes, in order; the consumer tag. One consumer per connection. If the broker
        cancels it (its queue was deleted), the connection is dropped: a new one declares again.
        """
        if self._on_delivery is not None:
            raise RuntimeError("one consumer per connection")
        self._on_delivery = on_delivery
        ok = await self.call(spec.Basic.Consume(queue=queue))
        tag = cast(spec.Basic.ConsumeOk, ok).consumer_tag
        if not tag:
            raise ConnectionLost("the broker named no consumer tag")
        return tag

    async def cancel(self, consumer_tag: str) -> None:
        """Stop consuming; messages already on their way still arrive and must be settled."""
        await self.call(spec.Basic.Cancel(consumer_tag=consumer_tag))

    def settle(self, method: bytes, delivery_tag: int, bits: int) -> None:
        """Ack or nack a delivery: the frame leaves with the next write."""
        if self._lost is not None:
            raise self._gone()
        self._outgoing.append(
            _SETTLE_FRAME_HEAD + method + _ACK_ARGS.pack(delivery_tag, bits) + FRAME_END_CHAR
        )
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def close(self, timeout_s: float) -> None:
        """Close politely (the broker's close-ok awaited at most ``timeout_s``), then the socket.
        Publishes still waiting fail with ``ConnectionLost``."""
        if self._lost is not None or self._transport is None:
            return
        if not self._closing:
            self._closing = True
            self._send(spec.Connection.Close(REPLY_SUCCESS, "closing", class_id=0, method_id=0), 0)
        try:
            async with asyncio.timeout(timeout_s):
                await self._ended.wait()
        except TimeoutError:
            pass  # a silent broker: the socket goes all the same
        finally:  # answered, unanswered or cancelled: nothing of this connection is left
            self._closing = False  # so that _lose aborts rather than drains to a silent peer
            self._lose(ConnectionLost("the broker did not answer the close"))

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio's, so no isinstance).
        self._transport = transport = cast(asyncio.Transport, transport)
        self._reply = self._loop.create_future()  # for Connection.Start, which comes unasked
        transport.write(ProtocolHeader().marshal())
        self._ticker = self._loop.call_later(TICK_S, self._tick)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(ConnectionLost("the connection was closed" if exc is None else f"{exc!r}"))

    def data_received(self, data: bytes) -> None:
        self._last_read = self._loop.time()
        received = self._received
        received += data
        start, end = 0, len(received)
        while end - start >= FRAME_HEADER_SIZE + 1:
            _, channel, size = _FRAME.unpack_from(received, start)
            stop = start + FRAME_HEADER_SIZE + size + 1
            if stop > end:
                break
            if received[stop - 1] != FRAME_END:
                self._fail_protocol("a frame without its end marker")
                return
            if size == 13 and received.startswith(_ACK_PREFIX, start):
                tag, bits = _ACK_ARGS.unpack_from(received, start + 11)
                self._confirmed(tag, bool(bits & 1), None)
            else:
                try:
                    _, _, frame = codec.unmarshal(bytes(received[start:stop]))
                except (PAMQPException, ValueError, OverflowError, OSError):
                    if not self._unreadable(received, start):
                        self._fail_protocol("a frame pamqp cannot read")
                        return
                    start = stop
                    continue
                self._dispatch(channel, frame)
                if self._lost is not None:
                    return
            start = stop
        del received[:start]

    def pause_writing(self) -> None:
        # Publishes are bounded by the publisher's in-flight limit, so the buffer is too.
        pass

    # -- frames from the broker ----------------------------------------------------------------

    def _dispatch(self, channel: int, frame: object) -> None:
        if isinstance(frame, spec.Basic.Deliver | spec.Basic.Return):
            self._content_for, self._content_header = frame, None
        elif isinstance(frame, ContentHeader | ContentBody):
            self._content_arrived(frame)
        elif isinstance(frame, spec.Basic.Nack):
            self._confirmed(frame.delivery_tag, frame.multiple, Nacked())
        elif isinstance(frame, Heartbeat):
            pass  # a read is all a heartbeat is for
        elif isinstance(
            frame,
            spec.Connection.Close
            | spec.Channel.Close
            | spec.Connection.CloseOk
            | spec.Basic.Cancel,
        ):
            self._closed(channel, frame)
        elif isinstance(frame, spec.Connection.Blocked | spec.Connection.Unblocked):
            self._blocked = isinstance(frame, spec.Connection.Blocked)
        elif isinstance(frame, Frame) and self._reply is not None and not self._reply.done():
            self._reply.set_result(frame)
        else:
            self._fail_protocol(f"an unexpected {type(frame).__name__}")

    def _closed(
        self,
        channel: int,
        frame: spec.Connection.Close
        | spec.Channel.Close
        | spec.Connection.CloseOk
        | spec.Basic.Cancel,
    ) -> None:
        if isinstance(frame, spec.Connection.CloseOk):  # the answer to our own close
            self._lose(ConnectionLost("the connection was closed"))
            return
        if isinstance(frame, spec.Basic.Cancel):  # the queue is gone: a new session declares it
            self._lose(ConnectionLost("the broker cancelled the consumer"))
            return
        refused = (frame.reply_code or 0, frame.reply_text)
        if isinstance(frame, spec.Channel.Close):
            self._send(spec.Channel.CloseOk(), channel)
            self._lose(ConnectionLost("the broker closed the channel", refused))
        else:
            self._send(spec.Connection.CloseOk(), 0)
            self._lose(ConnectionLost("the broker closed the connection", refused))

    def _unreadable(self, received: bytearray, start: int) -> bool:
        """A delivery whose properties cannot be read (a timestamp past year 9999, say): refuse
        it alone, so it is dead-lettered, and skip its body. False for any other frame.

        Dropping the connection instead would return every message prefetched with it, each
        return counting toward the queue's delivery limit, again and again.
        """
        deliver = self._content_for
        if received[start] != _HEADER or not isinstance(deliver, spec.Basic.Deliver):
            return False
        body_size = struct.unpack_from(">Q", received, start + FRAME_HEADER_SIZE + 4)[0]
        self._content_for = self._content_header = None
        self._skipping = body_size
        self.settle(_NACK_METHOD, deliver.delivery_tag or 0, 0)
        for callback in self.on_unreadable:
            callback(deliver.delivery_tag or 0)
        return True

    def _content_arrived(self, frame: ContentHeader | ContentBody) -> None:
        """Put a message together: its header, then body frames up to the header's size."""
        if self._skipping and isinstance(frame, ContentBody):
            self._skipping -= len(frame.value)
            return
        if self._content_for is None or (
            isinstance(frame, ContentBody) == (self._content_header is None)
        ):
            self._fail_protocol(f"a {type(frame).__name__} out of place")
            return
        if isinstance(frame, ContentHeader):
            self._content_header, self._content, self._content_left = frame, [], frame.body_size
        else:
            self._content.append(frame.value)
            self._content_left -= len(frame.value)
        if self._content_left > 0:
            return
        method, header = self._content_for, self._content_header
        assert header is not None
        self._content_for = self._content_header = None
        body = b"".join(self._content)
        if isinstance(method, spec.Basic.Return):
            self._returned(
                (method.exchange, method.routing_key or "", header.properties.message_id)
            )
        elif self._on_delivery is not None:
            self._on_delivery(Delivered(self, method, header.properties, body))

    def _returned(self, key: tuple[str, str, str | None]) -> None:
        """Mark the oldest publish to the same exchange and routing key with the same message id
        not yet returned: its ack follows, and fails it. The broker returns in publish order, so
        this is the one it returned (or none: it timed out meanwhile)."""
        for pending in self._pending:
            if pending.key == key and not pending.returned:
                pending.returned = True
                return

    def _confirmed(self, tag: int, multiple: bool, error: Exception | None) -> None:
        pending = self._pending
        if multiple:
            while pending and pending[0].tag <= tag:
                self._settle(pending.popleft(), error)
        elif pending and pending[0].tag == tag:
            self._settle(pending.popleft(), error)
        else:  # out of order (messages for several queues): rare, so a walk is fine
            for waiting in pending:
                if waiting.tag == tag:
                    pending.remove(waiting)
                    self._settle(waiting, error)
                    break

    @staticmethod
    def _settle(pending: _Pending, error: Exception | None) -> None:
        future = pending.future
        if future.done():  # its caller gave up on it
            return
        if error is None and pending.returned:
            error = Returned()
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    # -- frames to the broker ------------------------------------------------------------------

    def _send(self, method: Frame, channel: int) -> None:
        self._flush()  # after every publish already made: the broker sees them in order
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(codec.marshal(method, channel))
            self._last_write = self._loop.time()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._outgoing:
            return
        outgoing, self._outgoing = self._outgoing, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(outgoing))
            self._last_write = self._loop.time()

    def _tick(self) -> None:
        """Expire confirms that waited too long; keep the heartbeat, and notice its absence."""
        now = self._loop.time()
        pending = self._pending
        while pending and pending[0].deadline <= now:
            future = pending.popleft().future
            if not future.done():
                future.set_exception(TimeoutError())
        heartbeat = self._heartbeat_s
        if heartbeat and now - self._last_read > 2 * heartbeat:
            # A half-open connection (a relay that stopped forwarding) is noticed only this way.
            self._lose(ConnectionLost(f"no heartbeat from the broker for {2 * heartbeat:g} s"))
            return
        transport = self._transport
        if heartbeat and now - self._last_write >= heartbeat / 2 and transport is not None:
            if not transport.is_closing():
                transport.write(_HEARTBEAT_FRAME)
            self._last_write = now
        self._ticker = self._loop.call_later(TICK_S, self._tick)

    # -- the end -------------------------------------------------------------------------------

    def _gone(self) -> ConnectionLost:
        """A new error saying why the connection is gone (one instance per raise)."""
        lost = self._lost
        if lost is None:
            return ConnectionLost("the connection is closing")
        return ConnectionLost(str(lost), lost.refused)

    def _fail_protocol(self, what: str) -> None:
        self._lose(ConnectionLost(f"the broker sent {what}"))

    def _lose(self, reason: ConnectionLost) -> None:
        """Fail everything still waiting, drop the socket, tell whoever watches. Once."""
        if self._lost is not None:
            return
        self._lost = reason
        if self._ticker is not None:
            self._ticker.cancel()
        if self._transport is not None:
            self._transport.abort() if not self._closing else self._transport.close()
        pending, self._pending = self._pending, deque()
        for waiting in pending:
            if not waiting.future.done():
                waiting.future.set_exception(reason)
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(reason)
        self._ended.set()
        for callback in self.on_lost:
            callback(reason)

    # -- opening -------------------------------------------------------------------------------

    async def _handshake(self, url: URL, name: str, heartbeat_s: int) -> None:
        """Connection.Start to Confirm.SelectOk, in order; raises ``ConnectionLost`` if the
        broker refuses (credentials, virtual host)."""
        assert self._reply is not None
        try:
            await self._reply  # Connection.Start, the broker's answer to the protocol header
        finally:
            self._reply = None
        properties: FieldTable = {
            "product": "taskhook",
            "connection_name": name,
            "capabilities": {
                "publisher_confirms": True,
                "connection.blocked": True,
                "authentication_failure_close": True,
                # Without it RabbitMQ cancels a consumer whose queue was deleted in silence,
                # and the consumer would wait forever on a connection that looks healthy.
                "consumer_cancel_notify": True,
                "basic.nack": True,
            },
        }
        credentials = f"\0{url.user or 'guest'}\0{url.password or 'guest'}"
        tune = await self.call(
            spec.Connection.StartOk(
                client_properties=properties, mechanism="PLAIN", response=credentials
            ),
            0,
        )
        if not isinstance(tune, spec.Connection.Tune):
            raise ConnectionLost(f"the broker answered {type(tune).__name__} to Connection.StartOk")
        self._frame_max = tune.frame_max or self._frame_max
        # Either side's 0 means "no preference" (the spec): the other's value holds.
        proposed = [value for value in (heartbeat_s, tune.heartbeat or 0) if value > 0]
        agreed = min(proposed, default=0)
        self._heartbeat_s = float(agreed)
        self._send(
            spec.Connection.TuneOk(
                channel_max=tune.channel_max, frame_max=self._frame_max, heartbeat=agreed
            ),
            0,
        )
        await self.call(spec.Connection.Open(virtual_host=url.path[1:] or "/"), 0)
        await self.call(spec.Channel.Open())
        await self.call(spec.Confirm.Select())


async def open_amqp(
    url: str, name: str, *, publish_timeout_s: float, connect_timeout_s: float
) -> AmqpConnection:
    """A connection to the broker at ``url`` (one node), named ``name``, ready to publish.

    ``url`` is an ``amqp://`` or ``amqps://`` URL (system CA certificates for the latter) whose
    ``heartbeat`` query parameter, if any, is proposed to the broker. Raises ``TimeoutError``
    past ``connect_timeout_s``, the ``OSError`` of a connect that failed, or ``ConnectionLost``
    (with the broker's reason) if the broker refused.
    """
    parsed = URL(url)
    loop = asyncio.get_running_loop()
    secure = tls_context(parsed) if parsed.scheme == "amqps" else None
    port = parsed.explicit_port or _DEFAULT_PORTS.get(parsed.scheme, 5672)
    try:
        heartbeat_s = int(parsed.query.get("heartbeat", "0"))
    except ValueError:
        raise ConnectionLost("the URL's heartbeat is not a whole number of seconds") from None
    async with asyncio.timeout(connect_timeout_s):
        _, connection = await loop.create_connection(
            lambda: AmqpConnection(
                loop, publish_timeout_s=publish_timeout_s, call_timeout_s=connect_timeout_s
            ),
            parsed.host or "localhost",
            port,
            ssl=secure,
        )
        opened = False
        try:
            await connection._handshake(parsed, name, heartbeat_s)
            opened = True
        except ConnectionLost as e:
            if e.refused is None:
                raise
            raise OpeningRefused(str(e), e.refused) from None
        finally:
            if not opened:  # refused, failed, timed out or cancelled: no socket left behind
                connection._lose(ConnectionLost("the connection was not opened"))
    return connection


def tls_context(url: URL) -> ssl.SSLContext:
    """The TLS context an ``amqps://`` URL asks for, with the query parameters aio-pika reads
    (``cafile``, ``capath``, ``certfile``, ``keyfile``, ``no_verify_ssl=1``), so that one
    ``TASKHOOK_AMQP_URL`` serves the ingest, the consumers and the tools alike."""
    query = url.query
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=query.get("cafile"), capath=query.get("capath")
    )
    if query.get("certfile"):
        context.load_cert_chain(query["certfile"], query.get("keyfile"))
    if query.get("no_verify_ssl", "0") != "0":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
