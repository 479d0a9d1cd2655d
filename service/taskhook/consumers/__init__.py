"""Reacting to what taskhook publishes: declare a consumer, and the toolkit runs it.

::

    from taskhook.consumers import TaskEvent, consumer

    @consumer("audit", "task.completed.*", "task.failed.#")
    async def audit(event: TaskEvent) -> None:
        ...

Run it with ``taskhook consume package.module:audit`` (or by name, once registered under the
``taskhook.consumers`` entry point group).
"""

from taskhook.consumers.consumer import (
    Consumer,
    Handler,
    PermanentError,
    Running,
    TaskEvent,
    TransientError,
    consumer,
)

__all__ = [
    "Consumer",
    "Handler",
    "PermanentError",
    "Running",
    "TaskEvent",
    "TransientError",
    "consumer",
]
