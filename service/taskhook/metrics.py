"""Prometheus metrics, in a registry of their own so each app (and each test) gets fresh ones."""

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A confirmed publish takes a few ms on a healthy broker; the tail up to the publish timeout is
# what tells an overloaded or flapping broker apart.
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    publish_seconds: Histogram
    publishes_in_flight: Gauge
    broker_connected: Gauge
    broker_blocked: Gauge
    redactions: Counter
    # Each request counts twice; resolving label values to a child takes a lock and a lookup
    # every time, so each child is resolved once and kept (the label values are few and fixed).
    _children: dict[tuple[object, ...], Any] = field(default_factory=dict, repr=False)

    def answered(self, outcome: str, cause: str) -> None:
        """Count one webhook answer."""
        self._child(self.requests, outcome, cause).inc()

    def published(self, destination: str, result: str, seconds: float) -> None:
        """Record how long one publish took to be confirmed (or to fail)."""
        self._child(self.publish_seconds, destination, result).observe(seconds)

    def redacted(self, rule: str) -> None:
        """Count one published body a redaction rule changed."""
        self._child(self.redactions, rule).inc()

    def _child(self, family: Counter | Histogram, *values: str) -> Any:
        key = (id(family), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    @classmethod
    def create(cls) -> "Metrics":
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter(
                "taskhook_webhook_requests",
                "Webhook deliveries answered, by outcome and cause.",
                ["outcome", "cause"],
                registry=registry,
            ),
            publish_seconds=Histogram(
                "taskhook_publish_seconds",
                "Time from publish to broker confirm (or failure), by destination and result.",
                ["destination", "result"],
                buckets=PUBLISH_BUCKETS,
                registry=registry,
            ),
            publishes_in_flight=Gauge(
                "taskhook_publishes_in_flight",
                "Publishes waiting for the broker's confirm.",
                registry=registry,
            ),
            broker_connected=Gauge(
                "taskhook_broker_connected",
                "1 while the broker connection and channel are open, else 0.",
                registry=registry,
            ),
            broker_blocked=Gauge(
                "taskhook_broker_blocked",
                "1 while the broker blocks publishing (a memory or disk alarm), else 0.",
                registry=registry,
            ),
            redactions=Counter(
                "taskhook_redactions_total",
                "Published events whose body a redaction rule changed, by rule.",
                ["rule"],
                registry=registry,
            ),
        )


# A handler that writes one row takes milliseconds; the tail shows a slow database or service.
HANDLER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class ConsumerMetrics:
    registry: CollectorRegistry
    messages: Counter
    handler_seconds: Histogram
    in_flight: Gauge
    broker_connected: Gauge

    @classmethod
    def create(cls) -> "ConsumerMetrics":
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            messages=Counter(
                "taskhook_consumer_messages",
                "Messages settled: handled (acked), retried later, or dead-lettered.",
                ["consumer", "outcome"],
                registry=registry,
            ),
            handler_seconds=Histogram(
                "taskhook_consumer_handler_seconds",
                "Time spent in the handler, by its result.",
                ["consumer", "result"],
                buckets=HANDLER_BUCKETS,
                registry=registry,
            ),
            in_flight=Gauge(
                "taskhook_consumer_in_flight",
                "Messages being handled now.",
                ["consumer"],
                registry=registry,
            ),
            broker_connected=Gauge(
                "taskhook_consumer_broker_connected",
                "1 while the consumer's channel is open and consuming, else 0.",
                ["consumer"],
                registry=registry,
            ),
        )
