"""The recipe for running a consumer of one's own in the cluster holds together: the example
package registers the consumer the component's Deployment runs, in the image its Dockerfile
derives from taskhook's, with the Secret keys, selectors and user the base uses."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from taskhook.consumers.registry import ENTRY_POINT_GROUP
from tests.deploy.dockerfile import ROOT, parse, stages
from tests.deploy.manifests import (
    component,
    component_resources,
    container,
    find,
    kustomization,
    pod_template,
    secret_example,
    selects,
)

PACKAGE = ROOT / "docs" / "examples" / "my-consumers"
NAME = "finished-uploads"
DEPLOYMENT = f"taskhook-consumer-{NAME}"


def registered() -> dict[str, str]:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())
    entries: dict[str, str] = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    return entries


def test_the_example_package_holds_the_consumer_the_consumers_page_shows() -> None:
    page = (ROOT / "docs" / "consumers.md").read_text()
    shown = re.search(r"```python\n(# my_consumers.py\n.*?)```", page, re.S)
    assert shown is not None
    assert (PACKAGE / "my_consumers.py").read_text() == shown.group(1)
    assert registered() == {NAME: "my_consumers:announce_upload"}


def test_the_component_runs_the_registered_consumer_in_the_image_it_names() -> None:
    deployment = find("Deployment", DEPLOYMENT, component_resources("my-consumer"))
    spec = container(deployment)
    assert spec["args"] == ["consume", *registered()]
    (image,) = component("my-consumer")["images"]
    assert spec["image"].split(":")[0] == image["name"]
    placeholders = secret_example()["stringData"]
    for variable in spec["env"]:
        if "valueFrom" in variable:
            assert variable["valueFrom"]["secretKeyRef"]["key"] in placeholders


def test_its_budget_and_network_policy_select_its_pods_only() -> None:
    added = component_resources("my-consumer")
    assert sorted(doc["kind"] for doc in added) == [
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
    ]
    labels = pod_template(find("Deployment", DEPLOYMENT, added))["metadata"]["labels"]
    policy = find("NetworkPolicy", DEPLOYMENT, added)["spec"]["podSelector"]["matchLabels"]
    budget = find("PodDisruptionBudget", DEPLOYMENT, added)["spec"]["selector"]["matchLabels"]
    assert selects(policy, labels)
    assert selects(budget, labels)
    assert labels["app.kubernetes.io/component"] not in {"ingest", "consumer-tasks", "reconcile"}


def test_the_image_is_taskhooks_with_the_package_and_runs_as_its_user() -> None:
    (stage,) = parse((PACKAGE / "Dockerfile").read_text())
    (base_image,) = kustomization()["images"]
    dockerfile = (PACKAGE / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={base_image['name']}:" in dockerfile
    assert stage.last("USER").arguments == stages()["runtime"].last("USER").arguments
    assert stage.last("CMD").exec_form() == ["consume", *registered()]


@pytest.mark.image
@pytest.mark.timeout(300)
def test_installed_the_way_the_dockerfile_does_taskhook_lists_the_consumer(tmp_path: Path) -> None:
    # A copy, as the Dockerfile's COPY makes: setuptools writes its build files beside the source.
    source = shutil.copytree(PACKAGE, tmp_path / "my-consumers")
    target = tmp_path / "site"
    subprocess.run(  # noqa: S603  # pip on our own example
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        timeout=240,
    )
    listed = subprocess.run(  # noqa: S603  # the CLI under test
        [str(Path(sys.executable).parent / "taskhook"), "consumers"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)},
        timeout=60,
    )
    assert f"{NAME}\ttask.completed.upload\t" in listed.stdout
