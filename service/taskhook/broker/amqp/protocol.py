"""The connection itself: an ``asyncio.Protocol`` that owns its bytes, one channel in confirm
mode (what it promises, and why it is built this way: the package's docstring).

It stays one class: its hot path (``publish``, ``_flush``, ``data_received``, ``_frame_arrived``,
``_confirmed``) reads and writes the same few attributes, and splitting them among objects would
add an attribute lookup or a call per frame or publish. What needs none of its state lives
beside it: the opening (``opening``), its values (``values``), the frame bytes (``wire``).
"""

import asyncio
import struct
from collections import deque
from collections.abc import Callable
from typing import Final, cast

from pamqp import commands as spec
from pamqp import frame as codec
from pamqp.base import Frame
from pamqp.body import ContentBody
from pamqp.constants import FRAME_END, FRAME_END_CHAR, FRAME_HEADER_SIZE
from pamqp.header import ContentHeader, ProtocolHeader
from pamqp.heartbeat import Heartbeat

from taskhook.broker.amqp.values import (
    Call,
    ConnectionLost,
    Delivered,
    Nacked,
    Pending,
    PublishProperties,
    Returned,
    WriteBlocked,
)
from taskhook.broker.amqp.wire import (
    ACK_PREFIX,
    BODY,
    CHANNEL,
    CHANNEL_ERROR,
    CLOSE_METHOD,
    CLOSE_OK_FRAME,
    FRAME_ERROR,
    FRAME_MAX,
    HEADER,
    HEARTBEAT_FRAME,
    NACK_METHOD,
    REPLY_SUCCESS,
    SETTLE_FRAME_HEAD,
    SYNTAX_ERROR,
    UNEXPECTED_FRAME,
    frame_name,
    oversized,
    unreadable_body_size,
    unreadable_delivery_tag,
)

# The frame layouts read and written per frame or publish. Defined here, not imported: CPython
# compiles a method call on a name bound by an import as an attribute load (it takes the name for
# a module), so ``_FRAME.pack(...)`` would make a bound method on every call.
_FRAME: Final = struct.Struct(">BHI")  # type, channel, size
_ACK_ARGS: Final = struct.Struct(">QB")  # delivery tag, multiple
_CONTENT_HEADER: Final = struct.Struct(">HHQ")  # class, weight, body size
# How often the connection looks at its clock: confirms that waited too long, heartbeats due.
TICK_S: Final = 0.05
# The longest a synchronous method (a declaration, qos, consume, cancel) waits for its answer.
CALL_TIMEOUT_S: Final = 5.0
# How long a Connection.Close of ours waits for the broker's Close-Ok before the socket goes.
CLOSE_WAIT_S: Final = 1.0
# Publishes that timed out are kept until their confirm arrives, so that a late Return marks
# them and not the next publish to the same place; past this many, the oldest are forgotten.
MAX_EXPIRED_KEPT: Final = 4096
# What each synchronous method may be answered with, where pamqp does not say.
_ANSWERS: Final = {"Connection.StartOk": ("Connection.Tune",)}
# Prepared Basic.Publish frames kept, one per exchange and routing key: far more than the event
# names and task types make, but a bound, since a signed sender chooses the event name.
MAX_PREPARED_FRAMES: Final = 1024


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
        self._pending: deque[Pending] = deque()
        self._expired = 0  # how many of the oldest pending publishes timed out already
        self._last_tag = 0
        self._publish_frames: dict[tuple[str, str, bool], bytes] = {}
        self._frame_max = FRAME_MAX
        self._heartbeat_s = 0.0
        self._last_read = self._last_write = loop.time()
        self._calls: deque[Call] = deque()
        self._started: asyncio.Future[Frame] | None = None  # Connection.Start, which comes unasked
        # A message's content arriving frame by frame: what it follows, its header, its body.
        self._content_for: spec.Basic.Deliver | spec.Basic.Return | None = None
        self._content_header: ContentHeader | None = None
        self._content: list[bytes] = []
        self._content_left = 0
        self._on_delivery: Callable[[Delivered], None] | None = None
        self._skipping = 0  # body bytes still to come of a delivery refused unread
        self._skip_header = False  # the header of a delivery refused unread is next
        self.on_unreadable: list[Callable[[int], None]] = []
        """Called with the delivery tag of a message refused because it could not be read."""
        self._ticker: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._blocked = False
        self._write_paused = False
        self._closing = False  # our Connection.Close is sent: nothing more is
        self._close_wait_s = CLOSE_WAIT_S
        self._lost: ConnectionLost | None = None
        self._ended = asyncio.Event()
        self._socket_closed = asyncio.Event()
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
        properties: PublishProperties,
        body: bytes,
        *,
        mandatory: bool = True,
    ) -> "asyncio.Future[None]":
        """Send a message; the future resolves when the broker confirms it (see the module)."""
        if self._lost is not None or self._closing or self._write_paused:
            if self._write_paused and self._lost is None and not self._closing:
                raise WriteBlocked()
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
        outgoing.append(_FRAME.pack(HEADER, CHANNEL, len(header)) + header + FRAME_END_CHAR)
        room = self._frame_max - FRAME_HEADER_SIZE - 1  # the frame_max agreed counts all of it
        for start in range(0, len(body), room):
            chunk = body[start : start + room]
            outgoing.append(_FRAME.pack(BODY, CHANNEL, len(chunk)) + chunk + FRAME_END_CHAR)
        self._last_tag += 1
        future: asyncio.Future[None] = self._loop.create_future()
        deadline = self._loop.time() + self._publish_timeout_s
        where = (exchange, routing_key, properties.message_id)
        self._pending.append(Pending(self._last_tag, future, deadline, where))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    async def call(self, method: Frame, channel: int = CHANNEL) -> Frame:
        """Send a synchronous method (a declaration, qos, consume, cancel) and return the broker's
        reply, which is checked to be one the method may have; one at a time.

        Raises ``ConnectionLost`` if the broker refuses it (it closes the channel, and with it
        this connection), answers with another method (a protocol error: the connection is
        closed), or does not answer within the call timeout: a silent broker must not hold
        whoever waits, so the connection is dropped and the next session starts afresh. A call
        cancelled meanwhile leaves its answer to be dropped, never taken by the next call.
        """
        if self._lost is not None or self._closing:
            raise self._gone()
        if any(not waiting.future.done() for waiting in self._calls):
            raise RuntimeError("one call at a time")
        reply: asyncio.Future[Frame] = self._loop.create_future()
        answers = _ANSWERS.get(method.name) or tuple(method.valid_responses)
        self._calls.append(Call(method.name, answers, channel, reply))
        self._send(method, channel)
        try:
            async with asyncio.timeout(self._call_timeout_s):
                return await reply
        except TimeoutError:
            if self._lost is not None:  # it ended as the time ran out: say why it ended
                raise self._gone() from None
            waited = f"{self._call_timeout_s:g} s"
            self._lose(ConnectionLost(f"no answer to {method.name} within {waited}"))
            raise self._gone() from None

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
        """Ack or nack a delivery: the frame leaves with the next write. Raises
        ``ConnectionLost`` once the connection is closing or gone: the broker delivers it
        again."""
        if self._lost is not None or self._closing:
            raise self._gone()
        self._outgoing.append(
            SETTLE_FRAME_HEAD + method + _ACK_ARGS.pack(delivery_tag, bits) + FRAME_END_CHAR
        )
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def close(self, timeout_s: float) -> None:
        """Close politely (the broker's close-ok awaited), then the socket; returns once the
        socket is closed (a TLS close exchanged too), after ``timeout_s`` at most. Publishes
        still waiting fail with ``ConnectionLost``."""
        transport = self._transport
        if transport is None:
            return
        if self._lost is None and not self._closing:
            self._closing = True
            self._send(spec.Connection.Close(REPLY_SUCCESS, "closing", class_id=0, method_id=0), 0)
        try:
            async with asyncio.timeout(timeout_s):
                await self._ended.wait()
                await self._socket_closed.wait()
        except TimeoutError:
            pass  # a silent broker: the socket goes all the same
        finally:  # answered, unanswered or cancelled: nothing of this connection is left
            self._lose(ConnectionLost("the broker did not answer the close"), then="abort")
            if not self._socket_closed.is_set():
                transport.abort()

    # -- what the opening sees -----------------------------------------------------------------

    async def started(self) -> spec.Connection.Start:
        """The broker's Connection.Start, its answer to the protocol header."""
        assert self._started is not None
        return cast(spec.Connection.Start, await self._started)

    def tune(self, channel_max: int, frame_max: int, heartbeat_s: int) -> None:
        """Keep the frame size and heartbeat the opening agreed, and tell the broker so
        (Connection.TuneOk)."""
        self._frame_max = frame_max
        self._heartbeat_s = float(heartbeat_s)
        self._send(
            spec.Connection.TuneOk(
                channel_max=channel_max, frame_max=frame_max, heartbeat=heartbeat_s
            ),
            0,
        )

    def abort(self, reason: str) -> None:
        """End at once, without a Close: whatever waits fails with ``ConnectionLost(reason)``."""
        self._lose(ConnectionLost(reason))

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio's, so no isinstance).
        self._transport = transport = cast(asyncio.Transport, transport)
        self._started = self._loop.create_future()
        self._calls.append(Call("the protocol header", ("Connection.Start",), 0, self._started))
        transport.write(ProtocolHeader().marshal())
        self._ticker = self._loop.call_later(TICK_S, self._tick)

    def connection_lost(self, exc: Exception | None) -> None:
        self._socket_closed.set()
        if self._linger is not None:
            self._linger.cancel()
        self._lose(ConnectionLost("the connection was closed" if exc is None else f"{exc!r}"))

    def data_received(self, data: bytes) -> None:
        if self._lost is not None:  # our Close is out: only the broker's answer matters
            self._answered_close(data)
            return
        self._last_read = self._loop.time()
        received = self._received
        received += data
        start, end = 0, len(received)
        while end - start >= FRAME_HEADER_SIZE + 1:
            kind, channel, size = _FRAME.unpack_from(received, start)
            if size > self._frame_max - FRAME_HEADER_SIZE - 1:  # refused before it is buffered
                self._fail_protocol(FRAME_ERROR, oversized(received, start, size, self._frame_max))
                return
            stop = start + FRAME_HEADER_SIZE + size + 1
            if stop > end:
                break
            if received[stop - 1] != FRAME_END:
                self._fail_protocol(FRAME_ERROR, "a frame without its end marker")
                return
            if size == 13 and received.startswith(ACK_PREFIX, start):
                tag, bits = _ACK_ARGS.unpack_from(received, start + 11)
                self._confirmed(tag, bool(bits & 1), None)
            elif not self._frame_arrived(kind, channel, received, start, stop):
                return
            start = stop
        del received[:start]

    def _frame_arrived(
        self, kind: int, channel: int, received: bytearray, start: int, stop: int
    ) -> bool:
        """Read one whole frame other than an ack and act on it; False once that ended the
        connection."""
        if channel > CHANNEL:
            self._fail_protocol(CHANNEL_ERROR, f"a frame on channel {channel}, never opened")
            return False
        if kind == HEADER and self._skip_header and stop - start > FRAME_HEADER_SIZE + 12:
            self._skip_header = False  # the header of a delivery refused unread: its body size
            self._skipping = struct.unpack_from(">Q", received, start + FRAME_HEADER_SIZE + 4)[0]
            return True
        try:
            _, _, frame = codec.unmarshal(bytes(received[start:stop]))
        except Exception:  # pamqp's errors are not all its own (struct, unicode, ...)
            if self._refuse_unreadable(received, start, stop):
                return True
            self._fail_protocol(SYNTAX_ERROR, f"a frame of type {kind} pamqp cannot read")
            return False
        if not self._closing or isinstance(frame, spec.Connection.Close | spec.Connection.CloseOk):
            self._dispatch(channel, frame)  # after our Close, the spec has us discard all else
        return self._lost is None

    def pause_writing(self) -> None:
        """The socket's buffer is past its high-water mark: publishes are refused
        (``WriteBlocked``) until it drains, so the buffer stays bounded."""
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False

    # -- frames from the broker ----------------------------------------------------------------

    def _dispatch(self, channel: int, frame: object) -> None:
        if isinstance(frame, spec.Basic.Deliver | spec.Basic.Return):
            self._content_begins(frame)
        elif isinstance(frame, ContentHeader | ContentBody):
            self._content_arrived(frame)
        elif isinstance(frame, spec.Basic.Nack):
            self._confirmed(frame.delivery_tag, frame.multiple, Nacked())
        elif isinstance(
            frame,
            spec.Connection.Close
            | spec.Channel.Close
            | spec.Connection.CloseOk
            | spec.Basic.Cancel,
        ):
            self._closed(channel, frame)
        elif isinstance(frame, Heartbeat):
            pass  # a read is all a heartbeat is for
        elif isinstance(frame, spec.Connection.Blocked | spec.Connection.Unblocked):
            self._blocked = isinstance(frame, spec.Connection.Blocked)
        elif isinstance(frame, Frame) and self._calls:
            self._answer(channel, frame)
        else:
            self._fail_protocol(UNEXPECTED_FRAME, f"{frame_name(frame)}, which nothing asked for")

    def _content_begins(self, frame: spec.Basic.Deliver | spec.Basic.Return) -> None:
        if self._content_for is not None or self._skip_header or self._skipping:
            self._fail_protocol(UNEXPECTED_FRAME, f"a {frame.name} inside another's content")
        else:
            self._content_for, self._content_header = frame, None

    def _answer(self, channel: int, frame: Frame) -> None:
        """The next call's answer, if it is one it may have: dropped if its caller gave up."""
        waiting = self._calls[0]
        if frame.name not in waiting.answers or channel != waiting.channel:
            self._fail_protocol(  # which fails the call with it
                UNEXPECTED_FRAME, f"{frame.name} on channel {channel} in answer to {waiting.name}"
            )
            return
        self._calls.popleft()
        if not waiting.future.done():
            waiting.future.set_result(frame)

    def _closed(
        self,
        channel: int,
        frame: spec.Connection.Close
        | spec.Channel.Close
        | spec.Connection.CloseOk
        | spec.Basic.Cancel,
    ) -> None:
        if isinstance(frame, spec.Connection.CloseOk):  # the answer to our own close
            self._lose(ConnectionLost("the connection was closed"), then="close")
            return
        if isinstance(frame, spec.Basic.Cancel):  # the queue is gone: a new session declares it
            self._close_with(REPLY_SUCCESS, ConnectionLost("the broker cancelled the consumer"))
            return
        refused = (frame.reply_code or 0, frame.reply_text)
        if isinstance(frame, spec.Channel.Close):
            self._send(spec.Channel.CloseOk(), channel)
            self._close_with(
                REPLY_SUCCESS, ConnectionLost("the broker closed the channel", refused)
            )
        else:  # the Close-Ok is flushed before the socket closes: the broker waits for it
            self._send(spec.Connection.CloseOk(), 0)
            self._lose(ConnectionLost("the broker closed the connection", refused), then="close")

    def _refuse_unreadable(self, received: bytearray, start: int, stop: int) -> bool:
        """A delivery pamqp cannot read (a timestamp past year 9999 in its properties, a routing
        key that is not UTF-8): refuse it alone, so it is dead-lettered, and skip the rest of
        it. False for any other frame.

        Dropping the connection instead would return every message prefetched with it, each
        return counting toward the queue's delivery limit, again and again.
        """
        deliver = self._content_for
        if received[start] == HEADER and isinstance(deliver, spec.Basic.Deliver):
            skipping = unreadable_body_size(received, start, stop)
            if skipping is None:
                return False
            self._content_for = self._content_header = None
            self._skipping = skipping
            self._refuse(deliver.delivery_tag or 0)
            return True
        tag = None if deliver is not None else unreadable_delivery_tag(received, start, stop)
        if tag is None:
            return False
        self._skip_header = True
        self._refuse(tag)
        return True

    def _refuse(self, delivery_tag: int) -> None:
        self.settle(NACK_METHOD, delivery_tag, 0)
        for callback in self.on_unreadable:
            callback(delivery_tag)

    def _content_arrived(self, frame: ContentHeader | ContentBody) -> None:
        """Put a message together: its header, then body frames up to the header's size."""
        if self._skipping and isinstance(frame, ContentBody):
            self._skipping -= len(frame.value)
            return
        if self._content_for is None or (
            isinstance(frame, ContentBody) == (self._content_header is None)
        ):
            self._fail_protocol(UNEXPECTED_FRAME, f"a {type(frame).__name__} out of place")
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
                if self._expired:  # the oldest are the expired ones
                    self._expired -= 1
        elif pending and pending[0].tag == tag:
            self._settle(pending.popleft(), error)
            if self._expired:
                self._expired -= 1
        else:  # out of order (messages for several queues): rare, so a walk is fine
            for index, waiting in enumerate(pending):
                if waiting.tag == tag:
                    del pending[index]
                    self._expired -= index < self._expired
                    self._settle(waiting, error)
                    break

    @staticmethod
    def _settle(pending: Pending, error: Exception | None) -> None:
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

    def _close_with(self, code: int, reason: ConnectionLost) -> None:
        """End the connection with a Connection.Close of ours: the socket goes once the broker
        answers, or after ``CLOSE_WAIT_S``; nothing else is sent meanwhile."""
        if self._lost is not None:
            return
        if not self._closing:  # else our Close is out already: one is all the spec allows
            self._closing = True
            text = f"{reason}".encode()[:255].decode(errors="ignore")
            self._send(spec.Connection.Close(code, text, 0, 0), 0)
        self._lose(reason, then="linger")

    def _answered_close(self, data: bytes) -> None:
        """Bytes after our Close: the socket closes on the broker's Close-Ok (or its own
        Close, crossing ours)."""
        if CLOSE_OK_FRAME in data or CLOSE_METHOD in data:
            if self._linger is not None:
                self._linger.cancel()
            if self._transport is not None:
                self._transport.close()

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
        self._expire(now)
        heartbeat = self._heartbeat_s
        if heartbeat and now - self._last_read > 2 * heartbeat:
            # A half-open connection (a relay that stopped forwarding) is noticed only this way.
            self._lose(ConnectionLost(f"no heartbeat from the broker for {2 * heartbeat:g} s"))
            return
        transport = self._transport
        if heartbeat and now - self._last_write >= heartbeat / 2 and transport is not None:
            if not transport.is_closing() and not self._closing:
                transport.write(HEARTBEAT_FRAME)
            self._last_write = now
        self._ticker = self._loop.call_later(TICK_S, self._tick)

    def _expire(self, now: float) -> None:
        """Fail the publishes past their deadline (the oldest, since all wait as long), but keep
        them until their confirm: a Return that comes late must mark them, not a newer one."""
        pending = self._pending
        expired = self._expired
        while expired < len(pending) and pending[expired].deadline <= now:
            future = pending[expired].future
            if not future.done():
                future.set_exception(TimeoutError())
            expired += 1
        while expired > MAX_EXPIRED_KEPT:
            pending.popleft()
            expired -= 1
        self._expired = expired

    # -- the end -------------------------------------------------------------------------------

    def _gone(self) -> ConnectionLost:
        """A new error saying why the connection is gone (one instance per raise)."""
        lost = self._lost
        if lost is None:
            return ConnectionLost("the connection is closing")
        return ConnectionLost(str(lost), lost.refused)

    def _fail_protocol(self, code: int, what: str) -> None:
        """The broker broke the protocol: close with the spec's code for it, naming what."""
        self._outgoing.clear()  # nothing after our Close
        self._close_with(code, ConnectionLost(f"the broker sent {what}"))

    def _lose(self, reason: ConnectionLost, *, then: str = "abort") -> None:
        """Fail everything still waiting, end the socket, tell whoever watches. Once.

        ``then`` is how the socket ends: ``abort`` at once (the broker is silent or gone),
        ``close`` once what is written is flushed (a Close-Ok owed to the broker), ``linger``
        until the broker answers our Close (see ``_close_with``).
        """
        if self._lost is not None:
            return
        self._lost = reason
        if self._ticker is not None:
            self._ticker.cancel()
        self._end_socket(then)
        pending, self._pending = self._pending, deque()
        for waiting in pending:
            if not waiting.future.done():
                waiting.future.set_exception(reason)
        calls, self._calls = self._calls, deque()
        for call in calls:
            if not call.future.done():
                call.future.set_exception(reason)
        self._ended.set()
        for callback in self.on_lost:
            callback(reason)

    def _end_socket(self, then: str) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if then == "linger":
            self._linger = self._loop.call_later(self._close_wait_s, transport.abort)
        elif then == "close":
            transport.close()
        else:
            transport.abort()
