"""docker/compose.yaml agrees with the code: variables, ports, commands, health and start order."""

import re
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from taskhook.http import probes
from taskhook.settings import ConsoleSettings, ConsumerSettings, Settings
from tests.deploy.dockerfile import stages
from tests.deploy.manifests import (
    Document,
    compose,
    consumer_routes,
    env_names,
    from_environment,
    parse_command,
)


def service(name: str) -> Document:
    found: Document = compose()["services"][name]
    return found


def literal_environment(name: str) -> dict[str, str]:
    """Its variables, ``${VAR:-default}`` and ``${VAR:?error}`` replaced by a plausible value."""
    resolved = {}
    for key, value in service(name)["environment"].items():
        match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
        resolved[key] = match.group(1) if match else re.sub(r"\$\{\w+:\?.*\}", "a-secret", value)
    return resolved


def read_settings(
    name: str, settings_class: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    environment = literal_environment(name)
    # OTEL_* are read by the OpenTelemetry SDK (service/taskhook/tracing.py), not the settings.
    ours = {key for key in environment if not key.startswith("OTEL_")}
    assert ours <= env_names(settings_class), "a variable nothing reads"
    return from_environment(settings_class, environment, monkeypatch).model_dump()


def published_container_port(name: str) -> int:
    (mapping,) = service(name)["ports"]
    return int(mapping.rsplit(":", 1)[1])


def seconds(duration: str) -> int:
    assert duration.endswith("s")
    return int(duration[:-1])


def test_compose_ingest_env_names_are_settings_and_it_listens_where_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = read_settings("ingest", Settings, monkeypatch)
    assert published_container_port("ingest") == settings["port"]
    shutdown_s = (
        settings["drain_delay_s"] + settings["shutdown_grace_s"] + settings["publish_timeout_s"]
    )
    assert seconds(service("ingest")["stop_grace_period"]) > shutdown_s


def test_compose_ingest_runs_the_images_serve_command() -> None:
    assert "command" not in service("ingest")
    assert parse_command(stages()["runtime"].last("CMD").exec_form()).command == "serve"


def test_compose_consumer_env_names_are_settings_and_it_listens_where_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = read_settings("tasks", ConsumerSettings, monkeypatch)
    assert published_container_port("tasks") == settings["consumer_port"]
    assert seconds(service("tasks")["stop_grace_period"]) > settings["consumer_shutdown_grace_s"]


def test_compose_consumer_runs_consume_tasks_and_is_healthy_once_ready() -> None:
    tasks = service("tasks")
    assert parse_command(tasks["command"]).command == "consume"
    program = tasks["healthcheck"]["test"][-1]
    assert f"{consumer_routes()[probes.readyz]}'" in program
    assert "os.environ['TASKHOOK_CONSUMER_PORT']" in program
    assert "TASKHOOK_CONSUMER_PORT" in tasks["environment"]


def test_compose_starts_each_service_once_what_it_needs_is_healthy() -> None:
    services = compose()["services"]
    image_has_healthcheck = bool(stages()["runtime"].all("HEALTHCHECK"))
    for name, spec in services.items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            needed = services[dependency]
            assert "healthcheck" in needed or ("build" in needed and image_has_healthcheck)
    assert set(services["ingest"]["depends_on"]) == {"rabbitmq", "tasks"}


def test_compose_console_is_optional_reads_its_settings_and_listens_where_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = service("console")
    assert console["profiles"] == ["console"]
    assert parse_command(console["command"]).command == "console"
    settings = read_settings("console", ConsoleSettings, monkeypatch)
    assert published_container_port("console") == settings["console_port"]
    assert service("console")["ports"][0].startswith("127.0.0.1:")
    # It reads the file the tasks consumer writes, on the same volume.
    tasks_file = literal_environment("tasks")["TASKHOOK_DATABASE_URL"]
    assert settings["database_url"].get_secret_value() == tasks_file
