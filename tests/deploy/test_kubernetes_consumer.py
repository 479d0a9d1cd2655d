"""The `tasks` consumer's Kubernetes manifests agree with the code."""

import pytest
from pydantic_settings import BaseSettings

from taskhook.http import probes
from taskhook.settings import ConsumerSettings
from tests.deploy.dockerfile import stages
from tests.deploy.manifests import (
    Document,
    consumer_routes,
    container,
    env_names,
    environment,
    find,
    from_environment,
    named_port,
    parse_command,
)


@pytest.fixture
def consumer() -> Document:
    return find("Deployment", "taskhook-consumer-tasks")


def read_settings(consumer: Document, monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    return from_environment(ConsumerSettings, environment(consumer), monkeypatch)


def test_consumer_manifest_env_names_are_settings(consumer: Document) -> None:
    unknown = set(environment(consumer)) - env_names(ConsumerSettings)
    assert not unknown, f"the consumer would silently ignore {sorted(unknown)}"


def test_consumer_manifest_configuration_is_accepted_by_the_settings(
    consumer: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = read_settings(consumer, monkeypatch)
    database_url = settings.model_dump()["database_url"].get_secret_value()
    # The root filesystem is read-only: the SQLite default could not even create its file.
    assert database_url.startswith("postgresql+asyncpg://")


def test_consumer_pod_port_is_the_port_it_listens_on(
    consumer: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = named_port(consumer, "http")
    assert port == read_settings(consumer, monkeypatch).model_dump()["consumer_port"]
    annotations = consumer["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert str(port) in stages()["runtime"].last("EXPOSE").arguments.split()


def test_consumer_runs_the_consume_tasks_command(consumer: Document) -> None:
    spec = container(consumer)
    assert "command" not in spec, "the image's entrypoint is `taskhook`; only args are set"
    assert spec["args"] == ["consume", "tasks"]
    assert parse_command(spec["args"]).command == "consume"


def test_consumer_grace_period_outlasts_its_shutdown_grace(
    consumer: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    grace_s = read_settings(consumer, monkeypatch).model_dump()["consumer_shutdown_grace_s"]
    assert consumer["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace_s


def test_consumer_probes_use_the_paths_the_consumer_process_serves(consumer: Document) -> None:
    routes = consumer_routes()
    spec = container(consumer)
    assert spec["readinessProbe"]["httpGet"]["path"] == routes[probes.readyz]
    assert spec["livenessProbe"]["httpGet"]["path"] == routes[probes.healthz]
    annotations = consumer["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == routes[probes.metrics]
