"""``taskhook serve --workers N``: N processes sharing one port, for a machine with N cores.

Each worker is a whole ingest of its own (its own broker connection, its own publish-once memory
and metrics) listening with SO_REUSEPORT, so the kernel spreads connections across them. This
process only starts them, passes SIGTERM and SIGINT on, and waits: when one worker exits, the
others are stopped too and its exit status is returned, so whatever restarts taskhook sees it.
If this process itself is killed outright, the kernel sends each worker SIGTERM (Linux), so no
orphan goes on holding the port.
"""

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

WORKER_FLAG = "--worker"
POLL_S = 0.2


def run_workers(count: int, serve_args: Sequence[str]) -> int:
    """Run ``count`` workers of ``taskhook serve <serve_args>`` until they have all exited."""
    workers: list[subprocess.Popen[bytes]] = []
    passed_on: set[int] = set()

    def pass_on(signum: int, _frame: object) -> None:
        passed_on.add(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, pass_on)
    die_with_us = _terminated_with(os.getpid())
    for _ in range(count):
        worker = subprocess.Popen(  # noqa: S603  # this interpreter, our own arguments
            [sys.executable, "-m", "taskhook", "serve", *serve_args, WORKER_FLAG],
            preexec_fn=die_with_us,  # unsafe only with threads: none here
        )
        workers.append(worker)
    first = exit_status(_wait_for_first_exit(workers), frozenset(passed_on))
    pass_on(signal.SIGTERM, None)  # one worker down: stop the rest, each draining as usual
    rest = [exit_status(worker.wait(), frozenset(passed_on)) for worker in workers]
    return first or next((status for status in rest if status), 0)


def exit_status(returncode: int, asked: frozenset[int]) -> int:
    """A worker's exit status as a shell reports it (128 + N when killed by signal N), except
    that a worker ended by a signal this process passed on stopped as asked: 0. (A worker still
    starting has no handler yet, so SIGTERM ends it at once; it was not listening yet either.)
    """
    if returncode > 128 and returncode - 128 in asked:  # it caught the signal: 130 for SIGINT
        return 0
    if returncode >= 0:
        return returncode
    return 0 if -returncode in asked else 128 - returncode


def _wait_for_first_exit(workers: list[subprocess.Popen[bytes]]) -> int:
    while True:
        for worker in workers:
            status = worker.poll()
            if status is not None:
                return status
        time.sleep(POLL_S)


PR_SET_PDEATHSIG = 1


def _terminated_with(parent: int) -> Callable[[], None] | None:
    """What a forked worker runs before exec: ask for SIGTERM when ``parent`` dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)  # loaded before the fork

    def in_child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died between fork and prctl: nobody will signal us
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child
