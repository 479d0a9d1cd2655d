"""What a person sees when a command cannot do its work, or is stopped: one line on stderr, never
a traceback, and an exit status that says whose fault it was (2 the configuration, 1 the moment,
130 Ctrl-C). Each command runs as the real process."""

import asyncio
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel

from tests.support.broker import through
from tests.support.processes import (
    START_TIMEOUT_S,
    clean_environment,
    environment,
    free_port,
    kill_all,
    logged,
    run,
)
from tests.support.proxy import TcpProxy

# Every broker has it: tail binds its own temporary queue there and declares nothing else.
TAIL = ("tail", "--exchange", "amq.topic")


@dataclass
class Ended:
    code: int | None
    stdout: str
    stderr: str

    @property
    def said(self) -> list[str]:
        return self.stderr.strip().splitlines()


async def ended(process: asyncio.subprocess.Process) -> Ended:
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    finally:
        await kill_all(process)
    return Ended(process.returncode, stdout.decode(), stderr.decode())


async def taskhook(*args: str, **env: str) -> Ended:
    return await ended(await run(*args, env=clean_environment(**env)))


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else on this machine already listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port: int = other.getsockname()[1]
        yield port


# --- serve and consume: where they listen ---------------------------------------------------


async def test_serve_on_a_port_in_use_says_so_and_exits_1(exchange: str, busy_port: int) -> None:
    done = await ended(await run("serve", env=environment(exchange, busy_port)))
    assert done.code == 1
    assert done.said == [
        f"taskhook serve: cannot listen on 127.0.0.1:{busy_port}: another process listens "
        "there; stop it, or set TASKHOOK_PORT to a free port"
    ]


async def test_serve_on_a_host_that_is_no_address_names_the_setting_and_exits_2(
    exchange: str,
) -> None:
    env = environment(exchange, free_port(), TASKHOOK_HOST="999.1.1.1")
    done = await ended(await run("serve", env=env))
    assert done.code == 2
    assert done.said == [
        "taskhook serve: TASKHOOK_HOST=999.1.1.1 is neither an IP address nor a known host name"
    ]


async def test_consume_on_a_port_in_use_says_so_and_exits_1(busy_port: int, tmp_path: Path) -> None:
    done = await taskhook(
        "consume", "tasks",
        TASKHOOK_CONSUMER_HOST="127.0.0.1", TASKHOOK_CONSUMER_PORT=str(busy_port),
        TASKHOOK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/tasks.sqlite3",
    )  # fmt: skip
    assert done.code == 1
    assert done.said == [
        f"taskhook consume: cannot listen on 127.0.0.1:{busy_port}: another process listens "
        "there; stop it, or set TASKHOOK_CONSUMER_PORT to a free port"
    ]


# --- the operator tools: the broker -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "amqp://guest:not-the-password@127.0.0.1:5672/",
            "the broker at 127.0.0.1:5672 refused the credentials of user 'guest'",
        ),
        (
            "amqp://guest:guest@127.0.0.1:5672/taskhook-no-such-vhost",
            "the broker at 127.0.0.1:5672 (vhost 'taskhook-no-such-vhost') refused virtual host "
            "'taskhook-no-such-vhost': it does not exist, or user 'guest' may not use it",
        ),
        (
            "amqp://guest:not-the-password@taskhook-no-such-host.invalid:5672/",
            "cannot reach the broker at taskhook-no-such-host.invalid:5672: no host named "
            "'taskhook-no-such-host.invalid' can be found",
        ),
    ],
)
async def test_a_tool_says_why_the_broker_would_not_have_it(url: str, expected: str) -> None:
    done = await taskhook(*TAIL, TASKHOOK_AMQP_URL=url)
    assert done.code == 1
    assert done.said == [f"taskhook tail: {expected}"]
    assert "not-the-password" not in done.stdout + done.stderr


async def test_tail_says_when_the_broker_closes_its_connection_and_exits_1(
    proxy: TcpProxy,
) -> None:
    process = await run(*TAIL, env=clean_environment(TASKHOOK_AMQP_URL=through(proxy)))
    assert process.stderr is not None
    waiting = await asyncio.wait_for(process.stderr.readline(), START_TIMEOUT_S)
    assert waiting.startswith(b"waiting for #")

    await proxy.stop()

    done = await ended(process)
    assert done.code == 1
    assert done.said == [
        f"taskhook tail: the broker at 127.0.0.1:{proxy.port} closed the connection: the "
        "connection was lost (AMQPConnectionError)"
    ]


# --- Ctrl-C -----------------------------------------------------------------------------------


async def interrupted(process: asyncio.subprocess.Process, ready: bytes) -> Ended:
    """SIGINT (what Ctrl-C sends) once the process said ``ready`` on stderr."""
    assert process.stderr is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        seen = b""
        while ready not in seen:
            line = await process.stderr.readline()
            assert line, f"ended before {ready!r}: {seen!r}"
            seen += line
    process.send_signal(signal.SIGINT)
    return await ended(process)


async def test_tail_stopped_with_ctrl_c_exits_130_without_a_traceback() -> None:
    done = await interrupted(await run(*TAIL, env=clean_environment()), b"Ctrl-C to stop")
    assert done.code == 130
    assert done.said == []


async def test_send_stopped_with_ctrl_c_exits_130_without_a_traceback(busy_port: int) -> None:
    # The listener never answers: the first delivery waits for it until interrupted.
    url = f"http://127.0.0.1:{busy_port}/webhooks/livepeer"
    process = await run("send", "--url", url, "--count", "3", env=clean_environment())
    await asyncio.sleep(1.5)
    process.send_signal(signal.SIGINT)
    done = await ended(process)
    assert done.code == 130
    assert done.said == []


async def test_serve_stopped_with_ctrl_c_drains_and_exits_0(
    exchange: str, channel: AbstractChannel
) -> None:
    process = await run("serve", env=environment(exchange, free_port()))
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        while b'"listening"' not in await process.stdout.readline():
            pass
    process.send_signal(signal.SIGINT)
    done = await ended(process)
    assert done.code == 0
    assert "Traceback" not in done.stderr


async def test_serve_logs_which_broker_it_cannot_reach_and_why_never_the_password(
    exchange: str,
) -> None:
    port = free_port()
    url = f"amqp://guest:secret-password@127.0.0.1:{port}/"
    process = await run("serve", env=environment(exchange, free_port(), TASKHOOK_AMQP_URL=url))
    try:
        (line, *_) = [
            line
            for line in await logged(process, {"broker connection failed": 1})
            if line["message"] == "broker connection failed"
        ]
    finally:
        await kill_all(process)
    assert line["detail"] == (
        f"cannot reach the broker at 127.0.0.1:{port}: connection refused "
        "(is RabbitMQ running there?)"
    )
    assert "secret-password" not in str(line)


async def test_send_to_something_that_is_no_url_exits_2_naming_the_option() -> None:
    done = await taskhook("send", "--url", "notaurl")
    assert done.code == 2
    assert done.said[-1] == (
        "taskhook send: error: argument --url: 'notaurl' is not an http:// or https:// URL"
    )
    assert "Traceback" not in done.stderr


async def test_send_where_nothing_listens_suggests_the_port_setting_or_url() -> None:
    port = free_port()
    done = await taskhook("send", TASKHOOK_PORT=str(port))
    assert done.code == 1
    assert done.said[-1].startswith(
        f"taskhook send: cannot reach http://127.0.0.1:{port}/webhooks/livepeer: "
    )
    assert done.said[-1].endswith("(set TASKHOOK_PORT as `taskhook serve` has it, or pass --url)")
    assert len(done.said) == 1


async def test_send_with_a_path_the_delivery_lacks_exits_2_before_sending() -> None:
    done = await taskhook("send", "--set", "payload.tsak.snapshot.outputAssetId=null")
    assert done.code == 2
    assert done.said == ["taskhook send: the delivery has no payload.tsak"]
