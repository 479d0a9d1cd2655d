"""What the runner does with each message it is handed: run the handler, then settle it.

- the handler returned: ack;
- it failed and may succeed later: a copy goes to a retry queue (confirmed), then ack;
- it can never succeed, or attempts ran out: a copy goes to the dead queue (confirmed), then ack.

With a batch handler, a batch's valid events are applied in one call and acknowledged together
(one ``multiple`` ack, after the call returned); its invalid messages are parked first, and if
the call fails, every message of the batch goes through the one-by-one path above.
"""

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from pydantic import ValidationError

from taskhook import tracing
from taskhook.broker.amqp import AmqpConnection, Delivered
from taskhook.broker.topology import ConsumerTopology
from taskhook.clock import now_ms
from taskhook.consumers.consumer import BatchHandler, Consumer, Handler, PermanentError
from taskhook.consumers.delivery_info import delivering
from taskhook.consumers.settle import ack, forward
from taskhook.core.delivery import describe_problems, summarize_problems
from taskhook.core.redaction import mask_credentials
from taskhook.core.retry import (
    Failure,
    RetryLater,
    RetryPolicy,
    attempts_made,
    decide,
    original_routing_key,
)
from taskhook.metrics import ConsumerMetrics

# An error's message in a log line: enough to act on, never a whole payload.
LOGGED_DETAIL_CHARS = 500

log = logging.getLogger(__name__)


class Handling:
    """Runs one consumer's handlers on messages and settles each message accordingly."""

    def __init__(
        self,
        consumer: Consumer[Any],
        handler: Handler[Any],
        batch: BatchHandler[Any] | None,
        topology: ConsumerTopology,
        policy: RetryPolicy,
        metrics: ConsumerMetrics,
    ) -> None:
        self._consumer = consumer
        self._handler = handler
        self.batch = batch
        self._topology = topology
        self._policy = policy
        self._metrics = metrics
        self._tracer = tracing.tracer()

    async def one(self, forwarding: AmqpConnection, message: Delivered) -> None:
        """Handle ``message`` alone and settle it; a copy to another queue goes on
        ``forwarding``, never the connection ``message`` came on."""
        outcome = await self.run(message)
        await self.settle(forwarding, message, outcome)

    async def run(self, message: Delivered) -> tuple[Failure | None, float]:
        """Run the handler on ``message``: how it failed, if it did, and when it started (for
        ``settle``)."""
        started = time.perf_counter()
        return await self._run_handler(message), started

    async def settle(
        self, forwarding: AmqpConnection, message: Delivered, outcome: tuple[Failure | None, float]
    ) -> None:
        """Settle ``message`` as ``run`` found it: the handler's slot is not needed for this,
        and a forward may wait for a broker that blocks publishing."""
        await self._settle(forwarding, message, *outcome)

    async def batch_of(self, forwarding: AmqpConnection, messages: Sequence[Delivered]) -> None:
        """Handle ``messages`` (in delivery order, nothing else unsettled before the last) and
        settle every one of them."""
        assert self.batch is not None
        valid, events = [], []
        for message in messages:
            try:
                events.append(self._consumer.parse(message.body))
                valid.append(message)
            except ValidationError as e:
                invalid = Failure("invalid", "ValidationError", _problems(e))
                await self._settle(forwarding, message, invalid, time.perf_counter())
        if not valid:
            return
        started = time.perf_counter()
        try:
            with self._handler_span(valid), delivering(valid):
                await self.batch(events)
        except Exception as e:  # one bad event, or the store away: one by one, with retries
            log.warning(
                "batch failed; handling its messages one by one",
                extra={
                    "consumer": self._consumer.name,
                    "error": type(e).__name__,
                    "messages": len(valid),
                },
            )
            for message in valid:
                await self.one(forwarding, message)
            return
        await self._acked_together(valid, time.perf_counter() - started)

    async def _acked_together(self, messages: list[Delivered], seconds: float) -> None:
        self._metrics.handler_seconds.labels(self._consumer.name, "batch").observe(seconds)
        await ack(messages[-1], multiple=True)
        self._metrics.messages.labels(self._consumer.name, "handled").inc(len(messages))
        log.info(
            "batch handled",
            extra={
                "consumer": self._consumer.name,
                "messages": len(messages),
                "first_message_id": messages[0].message_id,
                "last_message_id": messages[-1].message_id,
                "handler_ms": round(seconds * 1000, 2),
            },
        )

    async def _settle(
        self,
        forwarding: AmqpConnection,
        message: Delivered,
        failure: Failure | None,
        started: float,
    ) -> None:
        attempt = attempts_made(message.headers) + 1
        fields = {
            "consumer": self._consumer.name,
            "message_id": message.message_id,
            "routing_key": original_routing_key(message.headers, message.routing_key or ""),
            "attempt": attempt,
            "handler_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if failure is None:
            await ack(message)
            self._count("handled")
            log.info("message handled", extra=fields)
            return
        verdict = decide(
            failure,
            attempt=attempt,
            policy=self._policy,
            headers=dict(message.headers),
            routing_key=message.routing_key or "",
            now_ms=now_ms(),
        )
        # The error's own words, as the dead-letter headers keep them: bounded, and with any
        # URL's credentials masked (a driver's message may quote its connection URL).
        detail = mask_credentials(failure.message)[:LOGGED_DETAIL_CHARS]
        fields |= {"error": failure.error_type, "detail": detail, "failure": failure.kind}
        if isinstance(verdict, RetryLater):
            queue, outcome = self._topology.retry_queue(verdict.delay_ms), "retried"
            fields["retry_in_ms"] = verdict.delay_ms
        else:
            queue, outcome = self._topology.dead_queue, "dead-lettered"
            fields["dead_reason"] = verdict.reason
        if await forward(forwarding, message, queue, verdict.headers):
            self._count(outcome)
            log.warning(f"message {outcome}", extra=fields)

    async def _run_handler(self, message: Delivered) -> Failure | None:
        try:
            event = self._consumer.parse(message.body)
        except ValidationError as e:
            return Failure("invalid", "ValidationError", _problems(e))
        started = time.perf_counter()
        failure: Failure | None = None
        try:
            with self._handler_span([message]), delivering([message]):
                await self._handler(event)
        except PermanentError as e:
            failure = Failure("permanent", type(e).__name__, str(e))
        except Exception as e:  # any other failure may pass: retry it later
            failure = Failure("transient", type(e).__name__, str(e))
            log.debug("handler failed", exc_info=True)
        self._metrics.handler_seconds.labels(
            self._consumer.name, "ok" if failure is None else failure.kind
        ).observe(time.perf_counter() - started)
        return failure

    def _handler_span(self, messages: Sequence[Delivered]) -> AbstractContextManager[object]:
        """A consumer span around the handler, continuing the trace the first message carries
        and linking those of the others (a batch is one call)."""
        if self._tracer is None:
            return nullcontext()
        contexts = [tracing.extract(message.headers) for message in messages]
        attributes: dict[str, Any] = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": self._topology.queue,
            "messaging.consumer.group.name": self._consumer.name,
            "messaging.batch.message_count": len(messages),
        }
        if len(messages) == 1:
            attributes["messaging.message.id"] = messages[0].message_id or ""
            attributes["messaging.rabbitmq.destination.routing_key"] = original_routing_key(
                dict(messages[0].headers or {}), messages[0].routing_key or ""
            )
        return tracing.span(
            self._tracer,
            f"process {self._topology.queue}",
            kind="CONSUMER",
            attributes=attributes,
            context=contexts[0],
            links=contexts[1:],
        )

    def _count(self, outcome: str) -> None:
        self._metrics.messages.labels(self._consumer.name, outcome).inc()


def _problems(error: ValidationError) -> str:
    return summarize_problems(describe_problems(error))
