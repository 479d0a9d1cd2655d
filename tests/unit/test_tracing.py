"""When traces are on: only when the standard OTEL_* variables ask for them."""

import pytest

from taskhook import tracing


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "taskhook"}, False),  # naming the service exports nothing
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),  # compose's way of leaving it unset
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, False),  # not shipped: said, not silently otlp
    ],
)
def test_traces_are_on_only_when_the_standard_variables_ask(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], on: bool
) -> None:
    installed: list[object] = []
    monkeypatch.setattr(tracing, "install", installed.append)
    assert tracing.configure(environ) is on
    assert len(installed) == int(on)


def test_with_tracing_off_a_span_is_a_shared_do_nothing() -> None:
    assert tracing.tracer() is None
    with tracing.span(None, "anything") as current:
        assert current is None
    assert tracing.span(None, "a") is tracing.span(None, "b")
