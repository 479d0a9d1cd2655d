"""docs/deploy.md's Kubernetes commands run as written, in the order written, without a cluster.

Each fenced ``sh`` block of a section is run by bash (``set -euo pipefail``) from the repo root,
with ``kubectl``, ``docker`` and ``curl`` on PATH standing for tests/deploy/offline_cluster.py:
the real kubectl renders and dry-runs what it can offline, and the stand-in remembers what a
cluster would hold (so reading the operator's Secret before applying the broker fails).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.deploy.dockerfile import ROOT
from tests.deploy.manifests import K8S, OVERLAYS, container, kubectl, rendered

PAGE = ROOT / "docs" / "deploy.md"
STAND_IN = Path(__file__).with_name("offline_cluster.py")
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def blocks(title: str, language: str) -> list[str]:
    """The fenced blocks of one language in a section, in order, de-indented."""
    found = []
    for indent, lang, body in FENCE.findall(section(title)):
        if lang == language:
            found.append("\n".join(line.removeprefix(indent) for line in body.splitlines()))
    return found


def run_offline(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``script`` under bash from the repo root, with the stand-ins first on PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("kubectl", "docker"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    # curl's requests need the cluster; what they send is checked from the page itself.
    (bin_dir / "curl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "curl").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "OFFLINE_CLUSTER_STATE": str(folder / "cluster.json"),
        "OFFLINE_CLUSTER_KUBECTL": kubectl(),
    }
    return subprocess.run(  # noqa: S603  # bash on the page's own commands
        ["/bin/bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def secrets_made(folder: Path, namespace: str) -> dict[str, set[str]]:
    """The Secrets the commands made (or the operator would have), by name, with their keys."""
    state = json.loads((folder / "cluster.json").read_text())
    return {
        name: set(keys)
        for where, kind, name, keys in state["objects"]
        if (where, kind) == (namespace, "Secret")
    }


def test_the_kubernetes_steps_run_in_the_order_written(tmp_path: Path) -> None:
    done = run_offline("\n".join(blocks("Kubernetes", "sh")), tmp_path)
    assert done.returncode == 0, done.stderr
    overlay = rendered(OVERLAYS / "example")
    secrets = secrets_made(tmp_path, "taskhook")
    # Every key a pod of the overlay reads is in the Secret the commands made.
    for workload in (d for d in overlay if d["kind"] in ("Deployment", "CronJob")):
        for variable in container(workload).get("env", []):
            if "valueFrom" in variable:
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["key"] in secrets[reference["name"]], workload["metadata"]["name"]


def secret_first(steps: list[str]) -> str:
    """The order of the page before: the Secret made right after the namespace, no wait."""
    namespace, _, apply = steps[0].partition("\n")
    secret = "\n".join(line for line in steps[1].splitlines() if " wait " not in line)
    return "\n".join([namespace, secret, apply])


def without_namespace(steps: list[str]) -> str:
    """The commands as the Secret's example had them: no -n."""
    return "\n".join(steps).replace("kubectl -n taskhook get", "kubectl get")


@pytest.mark.parametrize("mistake", [secret_first, without_namespace])
def test_the_stand_in_fails_the_mistakes_the_page_once_had(
    mistake: Callable[[list[str]], str], tmp_path: Path
) -> None:
    """The check above can fail: the page's former mistakes do."""
    done = run_offline(mistake(blocks("Kubernetes", "sh")), tmp_path)
    assert done.returncode != 0
    assert 'secrets "taskhook-rabbitmq-default-user" not found' in done.stderr


def test_every_namespaced_command_names_the_overlays_namespace(tmp_path: Path) -> None:
    namespace = yaml.safe_load((OVERLAYS / "example" / "kustomization.yaml").read_text())
    for block in blocks("Kubernetes", "sh"):
        for line in block.splitlines():
            if line.startswith(("kubectl", "token=", "user=", "pass=")) and "namespace" not in line:
                uses_overlay = "-k k8s/overlays/" in line
                assert uses_overlay or f"-n {namespace['namespace']}" in line, line


def test_the_curl_through_the_service_sends_the_token() -> None:
    for block in blocks("Kubernetes", "sh"):
        for line in block.splitlines():
            if line.startswith("curl") and "127.0.0.1" not in line:
                assert '-H "Authorization: Bearer $token"' in line


def test_the_own_consumer_steps_build_and_render_as_written(tmp_path: Path) -> None:
    done = run_offline("\n".join(blocks("Your own consumer in the cluster", "sh")), tmp_path)
    assert done.returncode == 0, done.stderr
    # The overlay lines the page shows, added to a copy of the example overlay, render.
    (snippet,) = blocks("Your own consumer in the cluster", "yaml")
    copy = Path(shutil.copytree(K8S, tmp_path / "k8s"))
    overlay_file = copy / "overlays" / "example" / "kustomization.yaml"
    overlay = yaml.safe_load(overlay_file.read_text())
    for key, values in yaml.safe_load(snippet).items():
        overlay[key] = overlay.get(key, []) + values
    overlay_file.write_text(yaml.safe_dump(overlay))
    documents = rendered(copy / "overlays" / "example")
    (deployment,) = [
        d
        for d in documents
        if (d["kind"], d["metadata"]["name"])
        == ("Deployment", "taskhook-consumer-finished-uploads")
    ]
    assert deployment["metadata"]["namespace"] == "taskhook"
    builds = blocks("Your own consumer in the cluster", "sh")[0]
    tags = re.findall(r" -t (\S+)", builds)
    assert container(deployment)["image"] == tags[-1]


@pytest.mark.parametrize("title", ["Kubernetes", "Your own consumer in the cluster"])
def test_each_section_has_commands_to_run(title: str) -> None:
    assert blocks(title, "sh")
