"""Running the HTTP server until SIGTERM, then draining it without dropping accepted work."""

import asyncio
import errno
import gc
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Literal

from aiohttp import web

from taskhook.http.middleware import count_answer
from taskhook.http.protocol import ProblemAppRunner
from taskhook.http.state import LIFECYCLE, METRICS

log = logging.getLogger(__name__)

ListenProblem = Literal["in-use", "no-such-host", "not-local", "not-allowed", "failed"]
# Each problem, and whether it is the configuration's (it can never work as set) or the moment's.
LISTEN_PROBLEMS: dict[int, ListenProblem] = {
    errno.EADDRINUSE: "in-use",
    errno.EADDRNOTAVAIL: "not-local",
    errno.EACCES: "not-allowed",
}


@dataclass
class CannotListen(Exception):
    """Listening on ``host``:``port`` failed, for the reason ``problem`` names."""

    host: str
    port: int
    problem: ListenProblem
    error: str

    def __str__(self) -> str:
        return f"cannot listen on {self.host}:{self.port}: {self.problem} ({self.error})"


async def start_site(site: web.BaseSite, host: str, port: int) -> None:
    """Start listening; ``CannotListen`` says why not instead of the socket's own error."""
    try:
        await site.start()
    except socket.gaierror as e:
        raise CannotListen(host, port, "no-such-host", type(e).__name__) from None
    except OSError as e:
        problem = LISTEN_PROBLEMS.get(e.errno or 0, "failed")
        raise CannotListen(host, port, problem, errno.errorcode.get(e.errno or 0, "?")) from None


async def serve_until_stopped(
    app: web.Application,
    *,
    host: str,
    port: int,
    drain_delay_s: float,
    grace_s: float,
    keepalive_timeout_s: float,
    reuse_port: bool = False,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down in order.

    1. ``/readyz`` turns 503 at once, and requests keep being served for ``drain_delay_s`` so
       the load balancer can stop sending new ones;
    2. the listener closes and requests in progress get up to ``grace_s`` to finish;
    3. the app's cleanup waits for started publishes and closes the broker connection.

    A connection idle for ``keepalive_timeout_s``, or still without all of a request's headers
    by then (from its start or from the end of its previous answer), is closed.
    """
    runner = ProblemAppRunner(
        app,
        on_refused=partial(count_answer, app[METRICS]),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=grace_s,
        keepalive_timeout=keepalive_timeout_s,
    )
    await runner.setup()
    settle_garbage_collector()
    stop = asyncio.Event()
    # Held until the end: a second signal while draining must not cut the drain short.
    with stop_on_signals(stop):
        try:
            site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
            await start_site(site, host, port)
            log.info("listening", extra={"host": host, "port": port})
            await stop.wait()
            app[LIFECYCLE].draining = True
            log.info("draining", extra={"drain_delay_s": drain_delay_s, "grace_s": grace_s})
            await asyncio.sleep(drain_delay_s)
        finally:
            await runner.cleanup()
    log.info("stopped")


# The collector runs when allocations outnumber deallocations by this many. Python's 700 made it
# run every couple of requests, each time walking every request still waiting for its confirm:
# the more in flight, the more CPU each request cost. A request allocates a few hundred objects;
# this lets a few hundred requests go by between collections, which hold a few MB at most.
GC_THRESHOLD = (50_000, 20, 100)


def settle_garbage_collector() -> None:
    """Leave what start-up built out of every future collection, and collect less often.

    Modules, models and the app live as long as the process: ``gc.freeze`` moves them out of
    the collector's generations, so a full collection no longer walks them again and again.
    Measured in docs/performance.md.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set ``stop`` instead of ending the process."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
