"""What only a raw socket can send: endless bodies, headers that never end, senders that hang up."""

import asyncio
import time

import orjson
from yarl import URL

from tests.conftest import Service, ServiceFactory, StartService

HEAD = b"POST /webhooks/livepeer HTTP/1.1\r\nHost: taskhook\r\nContent-Type: application/json\r\n"


async def open_raw(base_url: URL) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(base_url.host, base_url.port)


async def test_an_endless_chunked_body_gets_413_long_before_it_could_all_be_in_memory(
    service: Service,
) -> None:
    limit = service.settings.max_body_bytes
    reader, writer = await open_raw(service.client.make_url("/"))
    writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent = 0
    answer = asyncio.create_task(reader.readline())
    try:
        # 64 times the limit, unless the server answers first; socket buffers hold a few MB.
        while not answer.done() and sent < 64 * limit:
            writer.write(chunk)
            sent += 0x10000
            try:
                await asyncio.wait_for(writer.drain(), 2)
            except (ConnectionError, TimeoutError):
                break
        status_line = await asyncio.wait_for(answer, 5)
    finally:
        writer.transport.abort()
    assert status_line.startswith(b"HTTP/1.1 413")
    assert sent < 16 * limit


async def test_a_sender_that_hangs_up_mid_body_is_counted_as_such_not_as_a_bug(
    serve: StartService,
) -> None:
    # The real process: the in-process test server cancels the handler instead.
    service = await serve()
    _, writer = await open_raw(URL(service.base_url))
    writer.write(HEAD + b"Content-Length: 1000\r\n\r\n" + b'{"id": "half')
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    async with asyncio.timeout(5):
        while "client-disconnected" not in await service.metrics():
            await asyncio.sleep(0.05)
    metrics = await service.metrics()
    assert 'cause="client-disconnected",outcome="abandoned"} 1.0' in metrics
    assert "internal-error" not in metrics
    service.assert_logs_clean()


async def test_a_body_that_never_finishes_gets_408_after_the_body_timeout(
    start_service: ServiceFactory,
) -> None:
    service = await start_service(body_timeout_s=0.5)
    reader, writer = await open_raw(service.client.make_url("/"))
    try:
        writer.write(HEAD + b"Content-Length: 1000\r\n\r\n" + b'{"id": "half')
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 5)
    finally:
        writer.transport.abort()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"application/problem+json" in head
    assert orjson.loads(body)["type"] == "urn:taskhook:problem:body-timeout"


async def test_headers_trickled_forever_are_cut_off_at_the_keepalive_timeout(
    serve: StartService,
) -> None:
    # The real process, because the timeout is the server's (TASKHOOK_KEEPALIVE_TIMEOUT_S).
    service = await serve(TASKHOOK_KEEPALIVE_TIMEOUT_S="1")
    reader, writer = await open_raw(URL(service.base_url))
    closed = asyncio.create_task(reader.read())  # returns once the server closes
    writer.write(HEAD + b"X-Slow: ")
    started = time.monotonic()
    while not closed.done() and time.monotonic() - started < 10:
        writer.write(b"a")  # one byte every 0.1 s: activity must not push the deadline
        await asyncio.sleep(0.1)
    answer = await asyncio.wait_for(closed, 1)
    closed_after = time.monotonic() - started
    writer.transport.abort()
    assert answer == b""  # closed without an answer: this is not a sender worth one
    assert closed_after < 3  # 1 s, plus the timer's rounding and a loaded machine
    service.assert_logs_clean()


UNPARSABLE = [
    HEAD + b"Livepeer-Signature: " + b"v" * 10_000 + b"\r\n\r\n",  # over aiohttp's 8190
    b"POST /webhooks/livepeer HTTP/9.x\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00 not http\r\n\r\n",  # TLS sent to the plain port
]


async def test_what_the_http_parser_refuses_gets_a_counted_400_problem(
    serve: StartService,
) -> None:
    # The real process: the problem answer is wired into the server `taskhook serve` runs.
    service = await serve()
    answers = []
    for case in UNPARSABLE:
        reader, writer = await open_raw(URL(service.base_url))
        writer.write(case)
        answers.append(await asyncio.wait_for(reader.read(), 5))  # then closed
        writer.transport.abort()
    metrics = await service.metrics()
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].endswith(b" 400 Bad Request")
        assert b"Content-Type: application/problem+json" in head
        problem = orjson.loads(body)
        assert problem["type"] == "urn:taskhook:problem:malformed-http"
        assert b"vvvv" not in body  # the offending bytes are not echoed
    assert f'cause="malformed-http",outcome="refused"}} {len(UNPARSABLE)}.0' in metrics
    service.assert_logs_clean()
