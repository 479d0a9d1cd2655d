"""How ``taskhook serve --workers`` reports its workers' exits."""

import signal

import pytest

from taskhook.http.workers import exit_status

TERM, INT, KILL = signal.SIGTERM, signal.SIGINT, signal.SIGKILL


@pytest.mark.parametrize(
    ("returncode", "asked", "expected"),
    [
        (0, frozenset(), 0),
        (2, frozenset({TERM}), 2),  # a bad configuration stays an error after SIGTERM
        (-TERM, frozenset({TERM}), 0),  # stopped by the SIGTERM passed on: as asked
        (-INT, frozenset({INT}), 0),
        (-TERM, frozenset(), 128 + TERM),  # someone else's SIGTERM: reported as a shell would
        (-KILL, frozenset({TERM}), 128 + KILL),  # killed, not stopped
        (-TERM, frozenset({INT}), 128 + TERM),
        (128 + INT, frozenset({INT}), 0),  # a worker still starting caught the Ctrl-C passed on
        (128 + INT, frozenset(), 128 + INT),  # nobody asked: reported as it came
    ],
)
def test_exit_status(returncode: int, asked: frozenset[int], expected: int) -> None:
    assert exit_status(returncode, asked) == expected
