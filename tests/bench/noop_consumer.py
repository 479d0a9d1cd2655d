"""A consumer whose handler does nothing: what the consumer toolkit alone costs per message."""

from taskhook.consumers import TaskEvent, consumer


@consumer("bench-noop", "task.#")
async def noop(event: TaskEvent) -> None:
    """Takes every task event and does nothing with it."""
