"""The optional console component runs `taskhook console` with settings it reads, reachable only
inside the cluster, and only from the pods it lets in."""

import pytest

from taskhook.settings import ConsoleSettings
from tests.deploy.manifests import (
    Document,
    component,
    component_resources,
    container,
    env_names,
    environment,
    find,
    from_environment,
    named_port,
    parse_command,
    secret_example,
    selects,
)


def console_deployment() -> Document:
    return find("Deployment", "taskhook-console", component_resources("console"))


def test_the_console_is_a_component_and_not_in_the_base() -> None:
    assert component("console")["kind"] == "Component"


def test_it_runs_the_console_command_with_settings_the_console_reads() -> None:
    deployment = console_deployment()
    assert parse_command(container(deployment)["args"]).command == "console"
    variables = {variable["name"] for variable in container(deployment)["env"]}
    assert variables <= env_names(ConsoleSettings)


def test_it_listens_where_its_port_says_and_needs_a_token_to_do_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = console_deployment()
    env = environment(deployment)
    assert env["TASKHOOK_CONSOLE_HOST"] == "0.0.0.0"
    assert int(env["TASKHOOK_CONSOLE_PORT"]) == named_port(deployment, "http")
    token = next(v for v in container(deployment)["env"] if v["name"] == "TASKHOOK_CONSOLE_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["key"] in secret_example()["stringData"]
    settings = from_environment(ConsoleSettings, env, monkeypatch)  # starts: the token is there
    assert settings.console_token is not None


def test_it_is_reachable_only_inside_the_cluster_and_only_from_pods_let_in() -> None:
    resources = component_resources("console")
    service = find("Service", "taskhook-console", resources)
    assert service["spec"]["type"] == "ClusterIP"
    labels = console_deployment()["spec"]["template"]["metadata"]["labels"]
    assert selects(service["spec"]["selector"], labels)
    policy = find("NetworkPolicy", "taskhook-console", resources)
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"taskhook-console-client": "true"}}}]
    assert not [d for d in resources if d["kind"] == "Ingress"]
