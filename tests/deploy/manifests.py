"""Reading the deployment files, and what the code says they must agree with."""

import argparse
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from pydantic_settings import BaseSettings

from taskhook import cli
from taskhook.bootstrap import consumer_topology, ingest_app, task_store
from taskhook.consumers import Running
from taskhook.consumers.app import create_consumer_app
from taskhook.consumers.runner import ConsumerRunner
from taskhook.metrics import ConsumerMetrics
from taskhook.settings import ENV_PREFIX, ConsumerSettings, Settings
from taskhook.tasks.api import read_routes
from taskhook.tasks.consumer import tasks
from tests.deploy.dockerfile import ROOT

K8S = ROOT / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
COMPONENTS = K8S / "components"
COMPOSE = ROOT / "docker" / "compose.yaml"
Document = dict[str, Any]
S = TypeVar("S", bound=BaseSettings)


def load_all(path: Path) -> list[Document]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization(folder: Path = BASE) -> Document:
    document: Document = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return document


def kubectl() -> str:
    """The kubectl whose kustomize renders here what `kubectl apply -k` sends to a cluster."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl on PATH: the deploy tests render k8s/ with its kustomize")
    return found


@functools.cache
def _rendered(folder: Path) -> str:
    """kustomize's output, once per folder (every test of a run reads the same files)."""
    done = subprocess.run(  # noqa: S603  # our kubectl, our folder
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {folder}: {done.stderr.strip()}"
    return done.stdout


def rendered(folder: Path) -> list[Document]:
    """What `kubectl apply -k folder` would send, as kustomize renders it (a fresh copy)."""
    return [doc for doc in yaml.safe_load_all(_rendered(folder.resolve())) if doc is not None]


def with_components(*names: str) -> list[Document]:
    """The base with the optional components ``names`` added, as an overlay listing them would
    render it (a fresh copy)."""
    return [doc for doc in yaml.safe_load_all(_with_components(names)) if doc is not None]


@functools.cache
def _with_components(names: tuple[str, ...]) -> str:
    # kustomize takes only relative paths: the overlay is written in a folder of its own that
    # points back here.
    with tempfile.TemporaryDirectory(prefix="taskhook-overlay-") as folder:
        back = Path(os.path.relpath(K8S, folder))
        overlay = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [str(back / "base")],
            "components": [str(back / "components" / name) for name in names],
        }
        (Path(folder) / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
        return _rendered(Path(folder).resolve())


def base_resources() -> list[Document]:
    """Every object `kubectl apply -k k8s/base/` would send."""
    return rendered(BASE)


def find(kind: str, name: str, documents: list[Document] | None = None) -> Document:
    matches = [
        doc
        for doc in (base_resources() if documents is None else documents)
        if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def of_kind(kind: str) -> list[Document]:
    return [doc for doc in base_resources() if doc["kind"] == kind]


def secret_example() -> Document:
    return find("Secret", "taskhook-secrets", load_all(K8S / "secret.example.yaml"))


def pod_template(workload: Document) -> Document:
    """The pod a Deployment or a CronJob runs."""
    spec = workload["spec"]
    template: Document = (
        spec["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else spec["template"]
    )
    return template


def container(deployment: Document) -> Document:
    containers: list[Document] = pod_template(deployment)["spec"]["containers"]
    assert len(containers) == 1, "one container per pod: the probes and ports below assume it"
    return containers[0]


def environment(deployment: Document) -> dict[str, str]:
    """Every variable the container gets: ConfigMaps, literal values, and the Secret's keys
    (with the example Secret's placeholder values)."""
    spec = container(deployment)
    found: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        assert "configMapRef" in source, "secrets are read key by key, never whole"
        found |= find("ConfigMap", source["configMapRef"]["name"])["data"]
    placeholders = secret_example()["stringData"]
    for variable in spec.get("env", []):
        if "value" in variable:
            found[variable["name"]] = variable["value"]
        else:
            key = variable["valueFrom"]["secretKeyRef"]["key"]
            found[variable["name"]] = placeholders[key]
    return found


def named_port(deployment: Document, name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    port: int = ports[name]
    return port


def env_names(settings_class: type[BaseSettings]) -> set[str]:
    """The variables a settings class reads: its fields, prefixed."""
    return {f"{ENV_PREFIX}{name.upper()}" for name in settings_class.model_fields}


def from_environment(
    settings_class: type[S], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> S:
    """The settings a process started with exactly ``env`` would read, validated as at start-up."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_class()


def consumer_routes() -> dict[object, str]:
    """The tasks consumer process's GET routes, handler to path, as ``run_consumer`` wires them."""
    settings = ConsumerSettings()
    metrics = ConsumerMetrics.create()
    store = task_store(settings)  # opens nothing yet
    runner = ConsumerRunner(
        tasks, Running(_never_called), consumer_topology(tasks, settings), settings, metrics
    )
    app = create_consumer_app(runner, metrics, read_routes(store))
    return {
        route.handler: route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


async def _never_called(event: object) -> None:
    raise AssertionError("no message is consumed here")


def parse_command(argv: list[str]) -> argparse.Namespace:
    try:
        parsed: argparse.Namespace = cli.parser().parse_args(argv)
        return parsed
    except SystemExit as e:
        raise AssertionError(f"`taskhook {' '.join(argv)}` is not a command of the CLI") from e


def ingest_routes() -> dict[object, str]:
    """The ingest app's GET routes, handler to path, as ``create_app`` wires them."""
    app = ingest_app(Settings(webhook_secrets="unused"))
    return {
        route.handler: route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


def compose() -> Document:
    document: Document = yaml.safe_load(COMPOSE.read_text())
    return document


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def component(name: str) -> Document:
    """The kustomization of an optional component, checked to be one."""
    document = kustomization(COMPONENTS / name)
    assert document["kind"] == "Component", f"k8s/components/{name} must be a kustomize Component"
    return document


def component_resources(name: str) -> list[Document]:
    """What a component adds to the base once kustomize rendered it (generated ConfigMaps
    carry kustomize's hash suffix)."""
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in base_resources()}
    return [
        doc for doc in with_components(name) if (doc["kind"], doc["metadata"]["name"]) not in names
    ]
