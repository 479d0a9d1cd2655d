"""The one way taskhook's processes hold a broker connection: open it, watch it, ride out outages.

``Supervisor`` keeps a connection for as long as it runs. Each time it is connected it runs a
*session* (the publisher's or a consumer's) until the connection is lost or the caller stops it,
then connects again after a pause that grows while the broker stays away. The publisher, the
consumer runner and the operator tools all connect through ``connect`` here.
"""

import asyncio
import errno
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiormq.exceptions import ConnectionClosed, InvalidFrameError, ProbableAuthenticationError
from yarl import URL

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 15.0
# What "the broker failed" looks like from here. TimeoutError is an OSError: a connect or a
# declaration that took too long is one of these too.
BROKER_ERRORS = (AMQPError, ConnectionError, OSError, ChannelInvalidStateError)

Session = Callable[[AbstractConnection, asyncio.Event, asyncio.Event], Awaitable[None]]
"""Runs on an open connection, given the events ``lost`` (the connection or a channel the session
watches closed) and ``stop`` (the caller's), and returns once either is set."""


DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN})


def broker_address(url: str) -> str:
    """``host:port`` and the virtual host of ``url``, for people: never the credentials."""
    parsed = URL(url)
    port = parsed.explicit_port or DEFAULT_PORTS.get(parsed.scheme, 5672)
    vhost = parsed.path[1:] or "/"
    return f"{parsed.host}:{port}" + ("" if vhost == "/" else f" (vhost {vhost!r})")


def connection_failure(error: BaseException, url: str) -> str:
    """What went wrong connecting to ``url``, in one phrase an operator can act on.

    Names the host, port, user and virtual host; never the password, and never the error's own
    text, which can carry the whole URL.
    """
    parsed = URL(url)
    at = broker_address(url)
    host = parsed.host or "?"
    cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
    if isinstance(error, ProbableAuthenticationError):
        return f"the broker at {at} refused the credentials of user {parsed.user!r}"
    if isinstance(error, InvalidFrameError) and "Connection.OpenOk" in str(error):
        # RabbitMQ closes the connection instead of opening it: the vhost is missing or denied.
        vhost = parsed.path[1:] or "/"
        return (
            f"the broker at {at} refused virtual host {vhost!r}: it does not exist, or user "
            f"{parsed.user!r} may not use it"
        )
    if isinstance(cause, socket.gaierror):
        return f"cannot reach the broker at {at}: no host named {host!r} can be found"
    if isinstance(cause, ConnectionRefusedError):
        return f"cannot reach the broker at {at}: connection refused (is RabbitMQ running there?)"
    if isinstance(cause, TimeoutError):
        return f"cannot reach the broker at {at}: no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(cause, OSError) and cause.errno in UNREACHABLE:
        return f"cannot reach the broker at {at}: the host is unreachable"
    if isinstance(error, ConnectionClosed | ConnectionError):
        return f"the broker at {at} closed the connection: {type(error).__name__}"
    return f"cannot use the broker at {at}: {type(error).__name__}"


def closed_reason(error: BaseException | None) -> str:
    """Why the broker closed a connection that was open, as its close frame says, or the type of
    the error that broke it (its text may carry the URL)."""
    if isinstance(error, ConnectionClosed) and len(error.args) >= 2:
        return str(error.args[1])  # the broker's reply text, e.g. CONNECTION_FORCED - ...
    return "the connection was lost" + ("" if error is None else f" ({type(error).__name__})")


def reconnect_delays() -> Iterator[float]:
    """0.5 s, 1 s, 2 s, ... capped at 15 s: quick after a blip, gentle during a long outage."""
    for attempt in itertools.count():
        yield min(RECONNECT_FIRST_DELAY_S * 2 ** min(attempt, 16), RECONNECT_MAX_DELAY_S)


async def connect(url: str, name: str) -> AbstractConnection:
    """An open connection named ``name`` (as the broker's management UI shows it).

    Raises one of ``BROKER_ERRORS``; their text can carry the URL, so say only their type.
    """
    return await aio_pika.connect(
        url, timeout=CONNECT_TIMEOUT_S, client_properties={"connection_name": name}
    )


async def close_quietly(connection: AbstractConnection | None) -> None:
    """Close ``connection`` if it is open; a connection already broken has nothing to say."""
    if connection is None or connection.is_closed:
        return
    try:
        await connection.close()
    except BROKER_ERRORS:
        log.debug("closing a broken connection failed", exc_info=True)


class Supervisor:
    """Connects to ``url`` and runs sessions on it until ``stop`` is set, reconnecting as needed.

    A failure of a kind in ``retry_on`` (the broker's errors by default) is logged and tried
    again after a pause; any other propagates and ends ``run``. ``fields`` go on every log line
    it writes, to say whose connection it is.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        fields: Mapping[str, str],
        retry_on: tuple[type[Exception], ...] = BROKER_ERRORS,
    ) -> None:
        self._url = url
        self._name = name
        self._fields = dict(fields)
        self._retry_on = retry_on

    async def run(self, session: Session, stop: asyncio.Event) -> None:
        """Return once ``stop`` is set and the session in progress, if any, has returned."""
        delays = reconnect_delays()
        while not stop.is_set():
            try:
                connection = await connect(self._url, self._name)
            except self._retry_on as e:
                await self._pause(stop, next(delays), "broker connection failed", e)
                continue
            failure: Exception | None = None
            try:
                if stop.is_set():  # aio-pika can swallow a cancellation that lands in connect()
                    return
                await session(connection, _lost(connection), stop)
                delays = reconnect_delays()
            except self._retry_on as e:  # a declaration refused, a channel closed while opening...
                failure = e
            finally:
                await close_quietly(connection)
            if failure is not None:  # closed first: nothing is held open while waiting
                await self._pause(stop, next(delays), "broker session failed", failure)

    async def _pause(self, stop: asyncio.Event, delay: float, what: str, error: Exception) -> None:
        fields = {
            **self._fields,
            "error": type(error).__name__,
            "detail": connection_failure(error, self._url),
            "retry_in_s": delay,
        }
        log.warning(what, extra=fields, exc_info=log.isEnabledFor(logging.DEBUG))
        await wait_for_either(stop, timeout_s=delay)


def _lost(connection: AbstractConnection) -> asyncio.Event:
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_: lost.set())
    return lost


async def wait_for_either(*events: asyncio.Event, timeout_s: float | None = None) -> None:
    """Return as soon as any of ``events`` is set, or after ``timeout_s``."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
