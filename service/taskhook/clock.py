"""The wall clock, in the unit Livepeer uses everywhere: integer milliseconds since the epoch.

The pure core never calls it: time is an argument there. The edges read it here, in one way.
"""

import time


def now_ms() -> int:
    """Now, in Unix milliseconds."""
    return time.time_ns() // 1_000_000
