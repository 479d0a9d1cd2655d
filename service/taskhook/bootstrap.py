"""The composition root: the one place that reads the configuration and builds the real adapters.

Commands (``taskhook.cli``) call these; tests call them too, handing in a fake adapter where they
want one. Adapters are imported inside the functions that build them, so each command imports
only what it uses: ``taskhook serve`` must be ready within a second, and the tasks store's
database stack alone takes longer than that to import.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from taskhook.broker.topology import ArchiveRetention, ConsumerTopology, Declarations, Topology
from taskhook.core.redaction import Redaction
from taskhook.settings import (
    ENV_PREFIX,
    CommonSettings,
    ConsoleSettings,
    ConsumerSettings,
    DevSettings,
    Settings,
)

if TYPE_CHECKING:
    from aiohttp import web

    from taskhook.application.ingest import Publisher
    from taskhook.broker.publisher import AmqpPublisher
    from taskhook.consumers.consumer import Consumer
    from taskhook.metrics import Metrics
    from taskhook.replicas.redis import RedisMemory
    from taskhook.tasks.store import TaskStore

S = TypeVar("S", bound=BaseSettings)


class BadConfiguration(Exception):
    """The configuration cannot work; the message names the variables, never their values."""


def start_tracing() -> bool:
    """Traces on if the standard ``OTEL_*`` variables ask (``taskhook.tracing``); call before
    building the components, which look once whether tracing is on."""
    import os

    from taskhook import tracing

    return tracing.configure(os.environ)


def load_settings(kind: type[S], *, dev: bool = False) -> S:
    """``kind`` read from the environment; ``dev`` lets the ingest start with the dev secret.

    Raises ``BadConfiguration``.
    """
    source: type[BaseSettings] = DevSettings if dev and kind is Settings else kind
    try:
        settings = source()
    except ValidationError as e:
        raise BadConfiguration(describe_settings_error(e)) from None
    assert isinstance(settings, kind)
    return settings


def describe_settings_error(error: ValidationError) -> str:
    """``TASKHOOK_PORT: Input should be ...; ...``: variable names, never the values."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        name = f"{ENV_PREFIX}{str(item['loc'][0]).upper()}: " if item["loc"] else ""
        parts.append(f"{name}{item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def topology(settings: CommonSettings) -> Topology:
    """What the ingest publishes into, named after the configured exchange, with its archive
    unless turned off."""
    if not settings.archive_enabled:
        return Topology(settings.exchange)
    retention = ArchiveRetention(settings.archive_max_age_s, settings.archive_max_bytes)
    return Topology(settings.exchange, retention)


def consumer_topology(consumer: "Consumer[Any]", settings: ConsumerSettings) -> ConsumerTopology:
    """The queues ``consumer`` reads, shaped by ``settings``."""
    return ConsumerTopology(
        topology(settings), consumer.name, consumer.bindings, settings.retry_delays_ms
    )


def declarations(settings: ConsumerSettings, consumers: Iterable["Consumer[Any]"]) -> Declarations:
    """Everything the ingest and ``consumers`` declare, for ``taskhook topology``."""
    declared = topology(settings).declarations()
    for consumer in consumers:
        declared += consumer_topology(consumer, settings).declarations()
    return declared


def redaction(settings: CommonSettings) -> Redaction:
    """The rules that keep credentials out of published bodies, as configured."""
    return Redaction.configured(enabled=settings.redact, extra_paths=settings.redact_paths)


def amqp_publisher(settings: Settings, metrics: "Metrics") -> "AmqpPublisher":
    """The real publisher the settings describe; it connects only once started."""
    from taskhook.broker.publisher import AmqpPublisher

    return AmqpPublisher(
        settings.amqp_url.get_secret_value(),
        topology(settings),
        timeout_s=settings.publish_timeout_s,
        max_in_flight=settings.max_in_flight,
        metrics=metrics,
    )


def ingest_app(
    settings: Settings, *, metrics: "Metrics | None" = None, publisher: "Publisher | None" = None
) -> "web.Application":
    """The ingest's HTTP app, wired to the real publisher unless handed another."""
    from taskhook.application.dedup import PublishOnce
    from taskhook.application.ingest import Ingest
    from taskhook.http.app import create_app
    from taskhook.metrics import Metrics

    metrics = metrics or Metrics.create()
    chosen = publisher or amqp_publisher(settings, metrics)
    shared = shared_dedup(settings)
    ingest = Ingest(
        chosen,
        secrets=settings.secret_keys,
        tolerance_ms=int(settings.signature_tolerance_s * 1000),
        rejected_queue=topology(settings).rejected_queue,
        redaction=redaction(settings),
        publish_once=PublishOnce(
            settings.dedup_capacity,
            shared=shared,
            # A replica that died mid-publish holds its claim no longer than a publish can take.
            lease_s=settings.publish_timeout_s + 1,
        ),
    )
    app = create_app(settings, ingest, metrics)
    if shared is not None:
        app.on_cleanup.append(lambda _: shared.close())
    return app


def shared_dedup(settings: Settings) -> "RedisMemory | None":
    """The replicas' shared memory of confirmed events, if ``TASKHOOK_DEDUP_REDIS_URL`` is set;
    nothing connects until the first delivery."""
    if settings.dedup_redis_url is None:
        return None
    from taskhook.replicas.redis import RedisMemory, key_prefix

    url = settings.dedup_redis_url.get_secret_value()
    return RedisMemory(url, prefix=key_prefix(settings.exchange))


def task_store(settings: ConsumerSettings) -> "TaskStore":
    """The tasks consumer's store at ``TASKHOOK_DATABASE_URL``; nothing is opened yet."""
    from taskhook.tasks.store import TaskStore

    return TaskStore.from_settings(settings)


def console_app(settings: ConsoleSettings) -> "web.Application":
    """The console over the tasks store and the broker, with every registered consumer's queues;
    nothing connects until a page asks."""
    from taskhook.console.app import create_console_app
    from taskhook.console.broker import BrokerView
    from taskhook.consumers import registry

    broker = BrokerView(
        settings.amqp_url.get_secret_value(),
        topology(settings),
        tuple(consumer_topology(c, settings) for c in registry.registered().values()),
        redaction(settings),
    )
    return create_console_app(settings, task_store(settings), broker)
