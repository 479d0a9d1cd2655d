"""The ingest's Kubernetes manifests agree with the code: variables, port, probes, command."""

import pytest

from taskhook.http import probes
from taskhook.settings import Settings
from tests.deploy.dockerfile import stages
from tests.deploy.manifests import (
    Document,
    container,
    env_names,
    environment,
    find,
    from_environment,
    ingest_routes,
    named_port,
    parse_command,
)


@pytest.fixture
def ingest() -> Document:
    return find("Deployment", "taskhook")


@pytest.fixture
def settings(ingest: Document, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What `taskhook serve` would read in the pod, with the example Secret's placeholders."""
    return from_environment(Settings, environment(ingest), monkeypatch)


def test_ingest_manifest_env_names_are_settings(ingest: Document) -> None:
    unknown = set(environment(ingest)) - env_names(Settings)
    assert not unknown, f"the ingest would silently ignore {sorted(unknown)}"


def test_ingest_manifest_configuration_is_accepted_by_the_settings(settings: Settings) -> None:
    # The fixture raises if a value would stop start-up; these show the values were really read.
    assert settings.webhook_secrets
    assert settings.amqp_url.get_secret_value().startswith("amqp://")


def test_ingest_pod_port_is_the_port_it_listens_on(ingest: Document, settings: Settings) -> None:
    port = named_port(ingest, "http")
    assert port == settings.port
    annotations = ingest["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert str(port) in stages()["runtime"].last("EXPOSE").arguments.split()
    service = find("Service", "taskhook")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_ingest_probes_and_scrape_path_are_the_apps_probe_routes(ingest: Document) -> None:
    routes = ingest_routes()
    spec = container(ingest)
    assert spec["readinessProbe"]["httpGet"]["path"] == routes[probes.readyz]
    assert spec["livenessProbe"]["httpGet"]["path"] == routes[probes.healthz]
    assert spec["readinessProbe"]["httpGet"]["port"] == "http"
    assert spec["livenessProbe"]["httpGet"]["port"] == "http"
    annotations = ingest["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == routes[probes.metrics]


def test_ingest_runs_the_serve_command(ingest: Document) -> None:
    spec = container(ingest)
    assert "command" not in spec, "the image's entrypoint is `taskhook`; only args are set"
    assert parse_command(spec["args"]).command == "serve"
    assert spec["args"] == stages()["runtime"].last("CMD").exec_form()


def test_ingest_grace_period_outlasts_the_whole_shutdown(
    ingest: Document, settings: Settings
) -> None:
    """Otherwise the kubelet SIGKILLs publishes in progress: deliveries Livepeer must resend."""
    pre_stop_s = container(ingest)["lifecycle"]["preStop"]["sleep"]["seconds"]
    shutdown_s = (
        pre_stop_s + settings.drain_delay_s + settings.shutdown_grace_s + settings.publish_timeout_s
    )
    assert ingest["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > shutdown_s
    # The pause must be long enough for endpoints to be withdrawn before the listener closes.
    assert pre_stop_s + settings.drain_delay_s >= 3
