"""Opening a connection: the socket (TLS for ``amqps://``), then the handshake from
Connection.Start to Confirm.SelectOk, with the credentials, frame size and heartbeat the URL and
the broker agree on. Once opened, the connection is ``protocol.AmqpConnection``'s alone."""

import asyncio
import base64
import ssl
from typing import Final, cast

from pamqp import commands as spec
from pamqp.common import FieldTable
from yarl import URL

from taskhook.broker.amqp.protocol import AmqpConnection
from taskhook.broker.amqp.values import ConnectionLost, OpeningRefused
from taskhook.broker.amqp.wire import FRAME_MAX, FRAME_MIN_SIZE

DEFAULT_PORTS: Final = {"amqp": 5672, "amqps": 5671}
MECHANISMS: Final = ("PLAIN", "EXTERNAL")


async def open_amqp(
    url: str, name: str, *, publish_timeout_s: float, connect_timeout_s: float
) -> AmqpConnection:
    """A connection to the broker at ``url`` (one node), named ``name``, ready to publish.

    ``url`` is an ``amqp://`` or ``amqps://`` URL (system CA certificates for the latter) whose
    ``heartbeat`` query parameter, if any, is proposed to the broker (0 turns heartbeats off),
    and whose ``auth=external`` authenticates with the TLS client certificate. Raises
    ``TimeoutError`` past ``connect_timeout_s``, the ``OSError`` of a connect that failed (an
    ``ssl.SSLError`` for a certificate not trusted), or ``ConnectionLost`` (``OpeningRefused``,
    with the broker's reason, if the broker refused).
    """
    parsed = URL(url)
    loop = asyncio.get_running_loop()
    secure = tls_context(parsed) if parsed.scheme == "amqps" else None
    port = parsed.explicit_port or DEFAULT_PORTS.get(parsed.scheme, 5672)
    try:
        heartbeat = parsed.query.get("heartbeat")
        heartbeat_s = None if heartbeat is None else int(heartbeat)
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
            await handshake(connection, parsed, name, heartbeat_s)
            opened = True
        except ConnectionLost as e:
            if e.refused is None:
                raise
            raise OpeningRefused(str(e), e.refused) from None
        finally:
            if not opened:  # refused, failed, timed out or cancelled: no socket left behind
                connection.abort("the connection was not opened")
    return connection


async def handshake(
    connection: AmqpConnection, url: URL, name: str, heartbeat_s: int | None
) -> None:
    """Connection.Start to Confirm.SelectOk, in order; raises ``ConnectionLost`` if the
    broker refuses (credentials, virtual host, a mechanism it does not offer).

    ``heartbeat_s`` is ours: None takes the broker's, 0 turns heartbeats off.
    """
    start = await connection.started()  # the broker's answer to the protocol header
    mechanism, response = credentials(url, start)
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
    tune = cast(
        spec.Connection.Tune,
        await connection.call(
            spec.Connection.StartOk(
                client_properties=properties, mechanism=mechanism, response=response
            ),
            0,
        ),
    )
    frame_max = agreed_frame_max(tune.frame_max or 0)
    connection.tune(tune.channel_max, frame_max, agreed_heartbeat(heartbeat_s, tune.heartbeat or 0))
    await connection.call(spec.Connection.Open(virtual_host=url.path[1:] or "/"), 0)
    await connection.call(spec.Channel.Open())
    await connection.call(spec.Confirm.Select())


def agreed_frame_max(offered: int) -> int:
    """The frame_max agreed: the broker's, capped at ours; its 0 (no limit) means ours. Raises
    ``ConnectionLost`` below AMQP's minimum."""
    if 0 < offered < FRAME_MIN_SIZE:
        raise ConnectionLost(
            f"the broker proposed a frame_max of {offered} bytes, "
            f"below AMQP's minimum of {FRAME_MIN_SIZE}"
        )
    return min(offered or FRAME_MAX, FRAME_MAX)


def agreed_heartbeat(ours: int | None, brokers: int) -> int:
    """The heartbeat agreed: ours of None takes the broker's; either side's 0 means it wants
    none (the spec's Tune and TuneOk), so ours of 0 turns it off, and the broker's of 0 leaves
    ours; else the shorter."""
    if ours is None or ours == 0:
        return brokers if ours is None else 0
    return min(ours, brokers) if brokers else ours


def credentials(url: URL, start: spec.Connection.Start) -> tuple[str, str]:
    """The mechanism and response for Connection.StartOk: PLAIN with the URL's user and
    password, or EXTERNAL (``auth=external``: the TLS client certificate names the user)."""
    mechanism = url.query.get("auth", "plain").upper()
    if mechanism not in MECHANISMS:
        raise ConnectionLost(
            f"the URL's auth={mechanism.lower()} is not one taskhook speaks (plain, external)"
        )
    offered = (start.mechanisms or "").split()
    if mechanism not in offered:
        text = f"it offers no {mechanism} authentication, only {' '.join(offered) or 'none'}"
        raise OpeningRefused(f"the broker refused: {text}", (0, text))
    if mechanism == "EXTERNAL":
        return mechanism, ""
    return mechanism, f"\0{url.user or 'guest'}\0{url.password or 'guest'}"


def tls_context(url: URL) -> ssl.SSLContext:
    """The TLS context an ``amqps://`` URL asks for, with the query parameters aio-pika reads
    (``cafile``, ``capath``, ``cadata`` (base64 of DER certificates), ``certfile``, ``keyfile``,
    ``no_verify_ssl=1``), so that one ``TASKHOOK_AMQP_URL`` serves the ingest, the consumers and
    the tools alike."""
    query = url.query
    cadata = query.get("cadata")
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=query.get("cafile"),
        capath=query.get("capath"),
        cadata=base64.b64decode(cadata) if cadata else None,
    )
    if query.get("certfile"):
        context.load_cert_chain(query["certfile"], query.get("keyfile"))
    if query.get("no_verify_ssl", "0") != "0":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
