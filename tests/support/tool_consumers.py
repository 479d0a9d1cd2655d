"""A consumer for `taskhook topology` to declare by reference (``module:attribute``) in tests.

Its name is its own, so the queues a test declares and deletes for it are no one else's.
"""

from taskhook.consumers import TaskEvent, consumer


@consumer("test-topology-probe", "task.completed.*")
async def PROBE(event: TaskEvent) -> None:  # noqa: N802  # a consumer, named as one
    """Never consumes: only its queues are declared."""
    raise AssertionError("the probe is never run")
