"""The one line a command says when it cannot connect to the broker or cannot listen: which host,
which setting, what went wrong, and never a password."""

import errno
import socket

import pytest
from aiormq.exceptions import (
    AMQPConnectionError,
    ChannelInvalidStateError,
    ConnectionClosed,
    InvalidFrameError,
    ProbableAuthenticationError,
)

from taskhook.broker.amqp import ConnectionLost, OpeningRefused
from taskhook.broker.connection import (
    NoBrokerAnswered,
    broker_address,
    closed_reason,
    connection_failure,
)
from taskhook.cli.options import EXIT_FAILED, EXIT_USAGE, listen_failure
from taskhook.http.server import CannotListen, ListenProblem

URL = "amqp://app:s3cret-pass@broker.example:5673/prod"


def caused_by(cause: BaseException) -> AMQPConnectionError:
    """As aiormq raises a failed connect: its own error, from the socket's."""
    error = AMQPConnectionError(*cause.args)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            caused_by(ConnectionRefusedError(111, "Connect call failed")),
            "cannot reach the broker at broker.example:5673 (vhost 'prod'): connection refused "
            "(is RabbitMQ running there?)",
        ),
        (
            caused_by(socket.gaierror(-2, "Name or service not known")),
            "cannot reach the broker at broker.example:5673 (vhost 'prod'): no host named "
            "'broker.example' can be found",
        ),
        (
            TimeoutError(),
            "cannot reach the broker at broker.example:5673 (vhost 'prod'): no answer within 5 s",
        ),
        (
            caused_by(OSError(errno.EHOSTUNREACH, "No route to host")),
            "cannot reach the broker at broker.example:5673 (vhost 'prod'): the host is "
            "unreachable",
        ),
        (
            ProbableAuthenticationError("ACCESS_REFUSED - Login was refused"),
            "the broker at broker.example:5673 (vhost 'prod') refused the credentials of user "
            "'app'",
        ),
        (
            InvalidFrameError("Expected one of ['Connection.OpenOk'], got <Connection.Close>"),
            "the broker at broker.example:5673 (vhost 'prod') refused virtual host 'prod': it "
            "does not exist, or user 'app' may not use it",
        ),
        (
            ConnectionClosed(320, "CONNECTION_FORCED"),
            "the broker at broker.example:5673 (vhost 'prod') closed the connection: "
            "ConnectionClosed",
        ),
        (
            ConnectionLost("the broker proposed a frame_max of 512 bytes, below AMQP's minimum"),
            "cannot use the broker at broker.example:5673 (vhost 'prod'): the broker proposed a "
            "frame_max of 512 bytes, below AMQP's minimum",
        ),
        (
            OpeningRefused("refused", (0, "it offers no EXTERNAL authentication, only PLAIN")),
            "the broker at broker.example:5673 (vhost 'prod') refused: it offers no EXTERNAL "
            "authentication, only PLAIN",
        ),
        (
            OpeningRefused("closed", (403, "ACCESS_REFUSED - Login was refused")),
            "the broker at broker.example:5673 (vhost 'prod') refused the credentials of user "
            "'app'",
        ),
        (
            OpeningRefused("closed", (530, "NOT_ALLOWED - vhost prod not found")),
            "the broker at broker.example:5673 (vhost 'prod') refused virtual host 'prod': it "
            "does not exist, or user 'app' may not use it",
        ),
        (  # a declaration refused later is not a login refused: the broker's own words
            ConnectionLost("closed", (403, "ACCESS_REFUSED - configure access denied")),
            "the broker at broker.example:5673 (vhost 'prod') refused: ACCESS_REFUSED - "
            "configure access denied",
        ),
        (
            ChannelInvalidStateError("closed"),
            "cannot use the broker at broker.example:5673 (vhost 'prod'): ChannelInvalidStateError",
        ),
    ],
)
def test_a_connection_failure_says_where_and_what(error: Exception, expected: str) -> None:
    said = connection_failure(error, URL)
    assert said == expected
    assert "s3cret-pass" not in said


def test_a_cluster_none_of_whose_nodes_answered_says_why_for_each() -> None:
    nodes = [f"amqp://app:s3cret-pass@node-{n}:5672/" for n in (1, 2)]
    error = NoBrokerAnswered(
        [
            (nodes[0], caused_by(ConnectionRefusedError(111, "refused"))),
            (nodes[1], TimeoutError()),
        ]
    )
    said = connection_failure(error, ",".join(nodes))
    assert said == (
        "no broker node answered: cannot reach the broker at node-1:5672: connection refused "
        "(is RabbitMQ running there?); cannot reach the broker at node-2:5672: no answer "
        "within 5 s"
    )
    assert "s3cret-pass" not in said


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:guest@localhost/", "localhost:5672"),
        ("amqps://u:p@mq.example/", "mq.example:5671"),
        ("amqp://u:p@mq.example:1234/%2F", "mq.example:1234"),
        ("amqp://u:p@mq.example/staging", "mq.example:5672 (vhost 'staging')"),
        ("amqp://u:p@a:5681/,amqp://u:p@b:5682/", "a:5681, b:5682"),
    ],
)
def test_the_broker_address_has_no_credentials(url: str, expected: str) -> None:
    assert broker_address(url) == expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionClosed(320, "CONNECTION_FORCED - Closed via management plugin"),
         "CONNECTION_FORCED - Closed via management plugin"),
        (AMQPConnectionError("Server connection unexpectedly closed"),
         "the connection was lost (AMQPConnectionError)"),
        (None, "the connection was lost"),
    ],
)  # fmt: skip
def test_why_an_open_connection_closed(error: BaseException | None, expected: str) -> None:
    assert closed_reason(error) == expected


@pytest.mark.parametrize(
    ("problem", "status", "expected"),
    [
        ("in-use", EXIT_FAILED,
         "cannot listen on 0.0.0.0:8080: another process listens there; stop it, or set "
         "TASKHOOK_PORT to a free port"),
        ("no-such-host", EXIT_USAGE,
         "TASKHOOK_HOST=0.0.0.0 is neither an IP address nor a known host name"),
        ("not-local", EXIT_USAGE, "TASKHOOK_HOST=0.0.0.0 is not an address of this machine"),
        ("not-allowed", EXIT_USAGE,
         "not allowed to listen on port 8080 (TASKHOOK_PORT): ports below 1024 need privileges; "
         "set a higher one"),
        ("failed", EXIT_FAILED, "cannot listen on 0.0.0.0:8080: EIO"),
    ],
)  # fmt: skip
def test_a_listen_failure_names_the_setting(
    problem: ListenProblem, status: int, expected: str
) -> None:
    error = CannotListen("0.0.0.0", 8080, problem, "EIO")
    said = listen_failure(error, host_setting="TASKHOOK_HOST", port_setting="TASKHOOK_PORT")
    assert said == (expected, status)
