"""Traces (OpenTelemetry), from the webhook to each consumer's handler, when asked for.

Configured only by the standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``...), which the SDK reads itself. With none of them
set, ``configure`` does nothing and ``tracer()`` stays None: every traced place then takes its
untraced path, so tracing off costs nothing. The trace crosses the broker in the W3C
``traceparent``/``tracestate`` headers of each published message.

Attributes follow the OpenTelemetry semantic conventions for HTTP and messaging; never a body
or a secret.
"""

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

INSTRUMENTATION = "taskhook"
# Any of these turns traces on (OTEL_TRACES_EXPORTER=none turns them off again).
ENABLING = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)

_tracer: "Tracer | None" = None
_provider: "TracerProvider | None" = None


def tracer() -> "Tracer | None":
    """The tracer, or None when tracing is off: read it once, when building a component."""
    return _tracer


def provider() -> "TracerProvider | None":
    """The provider behind ``tracer()``, for a library's own instrumentation."""
    return _provider


def configure(environ: Mapping[str, str]) -> bool:
    """Turn tracing on if ``environ`` asks for it and ``taskhook[otel]`` is installed; True if on.

    Called once per process by the command that starts a service, before it builds anything.
    """
    wanted = any(environ.get(name) for name in ENABLING)
    exporter_name = environ.get("OTEL_TRACES_EXPORTER") or "otlp"
    if not wanted or exporter_name == "none":
        return False
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if exporter_name not in ("otlp", "console"):
        log.warning(
            "OTEL_TRACES_EXPORTER names an exporter taskhook does not ship: no traces",
            extra={"exporter": exporter_name, "shipped": "otlp, console"},
        )
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
    except ImportError:
        log.warning("OTEL_* is set but taskhook[otel] is not installed: no traces")
        return False
    install(OTLPSpanExporter() if exporter_name == "otlp" else ConsoleSpanExporter())
    return True


def install(exporter: "SpanExporter", *, batch: bool = True) -> None:
    """Trace to ``exporter`` from now on (tests hand in the SDK's in-memory exporter)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    global _tracer, _provider
    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the provider
    # reads OTEL_TRACES_SAMPLER. Unless named, the service is "taskhook".
    made = TracerProvider(resource=Resource.create({"service.name": "taskhook"}))
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    made.add_span_processor(processor)
    trace.set_tracer_provider(made)
    _provider, _tracer = made, made.get_tracer(INSTRUMENTATION)


def inject(headers: Mapping[str, object]) -> dict[str, object]:
    """``headers`` and the current trace context (``traceparent``, ``tracestate``)."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**headers, **carrier}


def new_trace() -> "Context":
    """A context with no parent: what a span started in it begins a trace."""
    from opentelemetry.context import Context

    return Context()


def extract(headers: Mapping[str, object] | None) -> "Context":
    """The trace context a message's headers carry (none: a new trace)."""
    from opentelemetry import propagate

    carrier = {k: v for k, v in (headers or {}).items() if isinstance(v, str)}
    return propagate.extract(carrier)


def span(
    active: "Tracer | None",
    name: str,
    *,
    kind: str = "INTERNAL",
    attributes: Mapping[str, Any] | None = None,
    context: "Context | None" = None,
    links: "list[Context] | None" = None,
) -> AbstractContextManager["Span | None"]:
    """A span under ``active``, ended when the block ends; an exception marks it an error, with
    its type only. With ``active`` None, a shared do-nothing context: tracing off costs a call."""
    if active is None:
        return _NO_SPAN
    return _span(active, name, kind, attributes, context, links)


_NO_SPAN: AbstractContextManager[None] = nullcontext()


@contextmanager
def _span(
    active: "Tracer",
    name: str,
    kind: str,
    attributes: Mapping[str, Any] | None,
    context: "Context | None",
    links: "list[Context] | None",
) -> Iterator["Span"]:
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    remote = (trace.get_current_span(c).get_span_context() for c in links or [])
    span_links = [Link(context) for context in remote if context.is_valid]
    with active.start_as_current_span(
        name,
        kind=SpanKind[kind],
        attributes=dict(attributes or {}),
        context=context,
        links=span_links,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as e:
            current.set_status(Status(StatusCode.ERROR, type(e).__name__))
            current.set_attribute("error.type", type(e).__name__)
            raise


def set_attributes(current: "Span | None", attributes: MutableMapping[str, Any]) -> None:
    if current is not None:
        current.set_attributes(dict(attributes))
