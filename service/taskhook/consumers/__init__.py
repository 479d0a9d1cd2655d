"""Reacting to what taskhook publishes: declare a consumer, and the toolkit runs it.

::

    from taskhook.consumers import TaskEvent, consumer

    @consumer("audit", "task.completed.*", "task.failed.#")
    async def audit(event: TaskEvent) -> None:
        ...

A handler reads what it may need from the message itself (headers, the attempt, whether it was
reconciled or replayed) with ``current_delivery()``. Run it with
``taskhook consume package.module:audit`` (or by name, once registered under the
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
from taskhook.consumers.delivery_info import (
    DeliveryInfo,
    current_deliveries,
    current_delivery,
)

__all__ = [
    "Consumer",
    "DeliveryInfo",
    "Handler",
    "PermanentError",
    "Running",
    "TaskEvent",
    "TransientError",
    "consumer",
    "current_deliveries",
    "current_delivery",
]
