"""The one way taskhook's processes hold a broker connection: open it, watch it, ride out outages.

``Supervisor`` keeps a connection for as long as it runs. Each time it is connected it runs a
*session* (the publisher's or a consumer's) until the connection is lost or the caller stops it,
then connects again after a pause that grows while the broker stays away. Those connections are
taskhook's own (``taskhook.broker.amqp``); the operator tools, which run once, connect through
aio-pika with ``connect``. Both take the same URLs and fail in the same words
(``connection_failure``).
"""

import asyncio
import errno
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TypeVar

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiormq.exceptions import ConnectionClosed, InvalidFrameError, ProbableAuthenticationError
from yarl import URL

from taskhook.broker.amqp import AmqpConnection, ConnectionLost, OpeningRefused, open_amqp

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# The broker's default is 60 s, and a half-open connection (a relay or a NAT that stopped
# forwarding without closing) is only noticed after a few missed heartbeats: at 10 s, within
# about half a minute instead of three. A URL that sets ?heartbeat= keeps its own.
DEFAULT_HEARTBEAT_S = 10
RECONNECT_FIRST_DELAY_S = 0.5
# A session that ends sooner than this was not a recovery: the next connect backs off further
# (a broker that nacks every publish would otherwise be reconnected to every few deliveries).
SHORT_SESSION_S = 5.0
RECONNECT_MAX_DELAY_S = 15.0
# What "the broker failed" looks like from here. TimeoutError is an OSError: a connect or a
# declaration that took too long is one of these too.
BROKER_ERRORS = (AMQPError, ConnectionError, OSError, ChannelInvalidStateError)

C = TypeVar("C")

Session = Callable[[AmqpConnection, asyncio.Event, asyncio.Event], Awaitable[None]]
"""Runs on an open connection, given the events ``lost`` (set when the connection goes, or by
the session to drop it) and ``stop`` (the caller's), and returns once either is set."""


DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
# The broker's reply codes when it refuses a connection: the credentials, the virtual host.
ACCESS_REFUSED, NOT_ALLOWED = 403, 530
UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN})


class NoBrokerAnswered(ConnectionError):
    """No node of a cluster's URLs took a connection; ``failures`` pairs each URL with why."""

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        super().__init__(f"none of {len(failures)} broker nodes answered")
        self.failures = list(failures)


def broker_address(url: str) -> str:
    """``host:port`` and the virtual host of ``url`` (of each node, for several), for people:
    never the credentials."""
    if "," in url:
        return ", ".join(broker_address(part) for part in url.split(","))
    try:
        parsed = URL(url.strip())
    except ValueError:  # said when something already went wrong: never a second failure
        return "the broker"
    port = parsed.explicit_port or DEFAULT_PORTS.get(parsed.scheme, 5672)
    vhost = parsed.path[1:] or "/"
    return f"{parsed.host}:{port}" + ("" if vhost == "/" else f" (vhost {vhost!r})")


def connection_failure(error: BaseException, url: str) -> str:
    """What went wrong connecting to ``url``, in one phrase an operator can act on.

    Names the host, port, user and virtual host; never the password, and never the error's own
    text, which can carry the whole URL.
    """
    if isinstance(error, NoBrokerAnswered):
        return "no broker node answered: " + "; ".join(
            connection_failure(failure, node) for node, failure in error.failures
        )
    parsed = _first_node(url)
    at = broker_address(url)
    refused = _refused_by_the_broker(error, parsed, at)
    if refused is not None:
        return refused
    cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
    not_reached = _not_reached(cause, parsed, at)
    if not_reached is not None:
        return not_reached
    return _broken(error, at)


def _broken(error: BaseException, at: str) -> str:
    """The connection was made, and went wrong."""
    if isinstance(error, ConnectionLost):  # taskhook's own words: never the URL
        return f"cannot use the broker at {at}: {error}"
    if isinstance(error, ConnectionClosed | ConnectionError):
        return f"the broker at {at} closed the connection: {type(error).__name__}"
    return f"cannot use the broker at {at}: {type(error).__name__}"


def _not_reached(cause: BaseException, parsed: URL, at: str) -> str | None:
    """Why the connection never reached the broker (the network, TLS), if that is why."""
    if isinstance(cause, ssl.SSLError):
        return _tls_failure(cause, at)
    if isinstance(cause, socket.gaierror):
        return f"cannot reach the broker at {at}: no host named {parsed.host or '?'!r} can be found"
    if isinstance(cause, ConnectionRefusedError):
        return f"cannot reach the broker at {at}: connection refused (is RabbitMQ running there?)"
    if isinstance(cause, TimeoutError):
        return f"cannot reach the broker at {at}: no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(cause, OSError) and cause.errno in UNREACHABLE:
        return f"cannot reach the broker at {at}: the host is unreachable"
    return None


def _tls_failure(error: ssl.SSLError, at: str) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"cannot trust the broker at {at}: {error.verify_message} (the URL's cafile or "
            "cadata must name the CA that signed the broker's certificate)"
        )
    return f"TLS with the broker at {at} failed: {error.reason or type(error).__name__}"


def _first_node(url: str) -> URL:
    try:
        return URL(url.split(",")[0].strip())
    except ValueError:  # said when something already went wrong: never a second failure
        return URL("amqp://broker/")


def _refused_by_the_broker(error: BaseException, parsed: URL, at: str) -> str | None:
    """The broker answered, and said no: the credentials or the virtual host (or, on taskhook's
    own connection, something else it names)."""
    # Only a refusal of the opening itself: a 403 on a declaration is a missing permission.
    code = error.refused[0] if isinstance(error, OpeningRefused) and error.refused else None
    if code == ACCESS_REFUSED and parsed.query.get("auth", "").lower() == "external":
        return f"the broker at {at} refused the client certificate (auth=external)"
    if code == ACCESS_REFUSED or isinstance(error, ProbableAuthenticationError):
        return f"the broker at {at} refused the credentials of user {parsed.user!r}"
    # RabbitMQ closes the connection instead of opening it (aiormq then reads the close frame
    # where it expected Connection.OpenOk): the vhost is missing or denied.
    if code == NOT_ALLOWED or (
        isinstance(error, InvalidFrameError) and "Connection.OpenOk" in str(error)
    ):
        vhost = parsed.path[1:] or "/"
        return (
            f"the broker at {at} refused virtual host {vhost!r}: it does not exist, or user "
            f"{parsed.user!r} may not use it"
        )
    if isinstance(error, ConnectionLost) and error.refused is not None:
        return f"the broker at {at} refused: {error.refused[1]}"
    return None


def closed_reason(error: BaseException | None) -> str:
    """Why the broker closed a connection that was open, as its close frame says, or the type of
    the error that broke it (its text may carry the URL)."""
    if isinstance(error, ConnectionClosed) and len(error.args) >= 2:
        return str(error.args[1])  # the broker's reply text, e.g. CONNECTION_FORCED - ...
    if isinstance(error, ConnectionLost) and error.refused is not None:
        return error.refused[1]
    return "the connection was lost" + ("" if error is None else f" ({type(error).__name__})")


def reconnect_delays() -> Iterator[float]:
    """0.5 s, 1 s, 2 s, ... capped at 15 s: quick after a blip, gentle during a long outage."""
    for attempt in itertools.count():
        yield min(RECONNECT_FIRST_DELAY_S * 2 ** min(attempt, 16), RECONNECT_MAX_DELAY_S)


def broker_urls(url: str) -> list[str]:
    """``TASKHOOK_AMQP_URL`` as one URL per broker node (it may list several, comma-separated),
    each with a heartbeat of ``DEFAULT_HEARTBEAT_S`` unless it names its own."""
    urls = []
    for part in url.split(","):
        node = part.strip()
        # Appended to the text as written: parsing and printing it again would decode what
        # the user encoded (a %2C in a password becomes a comma, and the URL a list).
        if "heartbeat" not in URL(node).query:
            node += ("&" if "?" in node else "?") + f"heartbeat={DEFAULT_HEARTBEAT_S}"
        urls.append(node)
    return urls


async def connect(url: str, name: str) -> AbstractConnection:
    """An open connection named ``name`` (as the broker's management UI shows it), to the
    first node of ``url`` (see ``broker_urls``) that accepts one.

    Raises one of ``BROKER_ERRORS`` (the last node's); their text can carry the URL, so say
    only their type.
    """
    connection, _ = await connect_any(broker_urls(url), name, _open_aio_pika)
    return connection


async def connect_amqp(url: str, name: str, *, publish_timeout_s: float) -> AmqpConnection:
    """As ``connect``, but taskhook's own connection (``taskhook.broker.amqp``), whose
    publishes time out after ``publish_timeout_s``: for a command that publishes."""
    connection, _ = await connect_any(broker_urls(url), name, _amqp_opener(publish_timeout_s))
    return connection


def _amqp_opener(publish_timeout_s: float) -> Callable[[str, str], Awaitable[AmqpConnection]]:
    """Opens taskhook's own connection to one node, within ``CONNECT_TIMEOUT_S`` (and every
    declaration on it as well)."""
    return partial(
        open_amqp, publish_timeout_s=publish_timeout_s, connect_timeout_s=CONNECT_TIMEOUT_S
    )


async def _open_aio_pika(url: str, name: str) -> AbstractConnection:
    return await aio_pika.connect(
        url, timeout=CONNECT_TIMEOUT_S, client_properties={"connection_name": name}
    )


async def connect_any(
    urls: Sequence[str], name: str, opening: Callable[[str, str], Awaitable[C]]
) -> tuple[C, int]:
    """A connection to the first of ``urls`` that accepts one, and that URL's index.

    Raises the error of a single URL as it is, ``NoBrokerAnswered`` when several all failed.
    """
    failures: list[tuple[str, BaseException]] = []
    for index, url in enumerate(urls):
        try:
            connection = await opening(url, name)
        except BROKER_ERRORS as e:
            failures.append((url, e))
            continue
        return connection, index
    if len(failures) == 1:
        raise failures[0][1]
    raise NoBrokerAnswered(failures)


async def close_quietly(connection: AbstractConnection | None) -> None:
    """Close ``connection`` if it is open; a connection already broken has nothing to say.

    Never waits longer than ``CONNECT_TIMEOUT_S``: a half-open connection would wait forever
    for the broker's close-ok, and the heartbeat tears it down anyway.
    """
    if connection is None or connection.is_closed:
        return
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await connection.close()
    except BROKER_ERRORS:
        log.debug("closing a broken connection failed", exc_info=True)


class Supervisor:
    """Connects to ``url`` and runs sessions on it until ``stop`` is set, reconnecting as needed.

    With several nodes in ``url``, each connect tries them in turn, starting after the node
    whose connection was lost last: losing a node costs a reconnect, not an outage.

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
        publish_timeout_s: float,
        retry_on: tuple[type[Exception], ...] = BROKER_ERRORS,
    ) -> None:
        self._urls = broker_urls(url)
        self._opening = _amqp_opener(publish_timeout_s)
        self._first = 0  # the node to try first on the next connect
        self._node = 0  # the node of the session in progress
        self._name = name
        self._fields = dict(fields)
        self._retry_on = retry_on

    async def run(self, session: Session, stop: asyncio.Event) -> None:
        """Return once ``stop`` is set and the session in progress, if any, has returned."""
        delays = reconnect_delays()
        while not stop.is_set():
            try:
                connection, node = await self._connect()
            except self._retry_on as e:
                nodes = ",".join(self._urls)
                await self._pause(stop, next(delays), "broker connection failed", e, nodes)
                continue
            # Once this connection is gone, the next node is tried first: the one just lost
            # is the likeliest to be down.
            self._first, self._node = (node + 1) % len(self._urls), node
            failure: Exception | None = None
            began = time.monotonic()
            try:
                if stop.is_set():  # a stop that came while connecting
                    return
                await session(connection, _watch(connection), stop)
                if time.monotonic() - began >= SHORT_SESSION_S:
                    delays = reconnect_delays()
                elif not stop.is_set():  # lost soon after it was made: do not spin on it
                    failure = ConnectionError("the connection was lost soon after it was made")
            except self._retry_on as e:  # a declaration refused, a channel closed while opening...
                failure = e
            finally:
                await connection.close(CONNECT_TIMEOUT_S)
            if failure is not None:  # closed first: nothing is held open while waiting
                url = self._urls[node]
                await self._pause(stop, next(delays), "broker session failed", failure, url)

    async def open_beside(self, purpose: str) -> AmqpConnection:
        """Another connection to the node of the session in progress, named ``<name>.<purpose>``;
        whoever opens it closes it. For publishing beside consuming: during a memory or disk
        alarm RabbitMQ stops reading every connection that publishes, and the acks that
        connection carries with it."""
        return await self._opening(self._urls[self._node], f"{self._name}.{purpose}")

    async def _connect(self) -> tuple[AmqpConnection, int]:
        """Each node in turn from ``_first``; the connection and its node's index."""
        order = self._urls[self._first :] + self._urls[: self._first]
        connection, index = await connect_any(order, self._name, self._opening)
        node = (self._first + index) % len(self._urls)
        if len(self._urls) > 1:
            log.info("broker node chosen", extra={**self._fields, "node": node + 1})
        return connection, node

    async def _pause(
        self, stop: asyncio.Event, delay: float, what: str, error: Exception, url: str
    ) -> None:
        fields = {
            **self._fields,
            "error": type(error).__name__,
            "detail": connection_failure(error, url),
            "retry_in_s": delay,
        }
        log.warning(what, extra=fields, exc_info=log.isEnabledFor(logging.DEBUG))
        await wait_for_either(stop, timeout_s=delay)


def _watch(connection: AmqpConnection) -> asyncio.Event:
    """The session's own event: set once ``connection`` is lost, and set by the session to
    drop it (the supervisor then closes it)."""
    lost = asyncio.Event()
    connection.on_lost.append(lambda _: lost.set())
    if connection.is_closed:
        lost.set()
    return lost


async def wait_for_either(*events: asyncio.Event, timeout_s: float | None = None) -> None:
    """Return as soon as any of ``events`` is set, or after ``timeout_s``."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
