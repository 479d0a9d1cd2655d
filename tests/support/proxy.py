"""A TCP proxy in front of the real broker, so a test can cut or stall the line on purpose.

Stopping the real RabbitMQ would break every other test on the machine; cutting the proxy gives
the service the same view of an outage (connection reset, or silence) with nothing else touched.
"""

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._answering = asyncio.Event()  # the broker's side only
        self._answering.set()
        self.port = 0

    async def start(self) -> None:
        """Listen (on the same port as before, after a ``stop``)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and reset every open connection, as a dying broker would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    def pause(self) -> None:
        """Hold every byte in both directions: the connection stays up but nothing answers."""
        self._flowing.clear()

    def hold_answers(self) -> None:
        """Hold what the broker sends, and pass what the client sends: the broker acts, and
        its answers come late."""
        self._answering.clear()

    def resume(self) -> None:
        self._flowing.set()
        self._answering.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        for source, sink, gate in (
            (reader, upstream_writer, self._flowing),
            (upstream_reader, writer, self._answering),
        ):
            pump = asyncio.create_task(self._pump(source, sink, gate))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event
    ) -> None:
        try:
            while chunk := await source.read(65536):
                await self._flowing.wait()
                await gate.wait()
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                sink.transport.abort()
