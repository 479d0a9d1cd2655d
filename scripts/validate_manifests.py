"""Validate what kustomize renders from k8s/ against the Kubernetes API schemas, offline.

What is checked is what `kubectl apply -k` would send: every overlay under k8s/overlays/, and
the base with every combination of the components under k8s/components/, each rendered by
`kubectl kustomize` (the kustomize built into kubectl). YAML files outside any kustomization
(k8s/secret.example.yaml) are checked as they are. Each document is checked strictly (an
unknown field, such as a misspelt probe, is an error) against the oldest and the newest
Kubernetes version we support. A kind with no bundled schema fails, unless it is one of the
few named below with the reason it is skipped. The custom resources of the optional
components (KEDA's, the Prometheus Operator's) are checked against partial schemas written by
hand in scripts/schemas/: strict on the fields taskhook uses.

    python scripts/validate_manifests.py k8s
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

# 1.30: the oldest with the preStop `sleep` action on by default (beta; GA in 1.34).
# 1.37: the newest whose schemas kubernetes-validate ships at the version pinned in pyproject.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

NOT_VALIDATED = {
    # A custom resource: kubernetes-validate ships only built-in kinds, and the operator's CRD
    # cannot be fetched here. tests/deploy checks the fields taskhook relies on.
    "RabbitmqCluster": "custom resource of the RabbitMQ Cluster Operator",
}

# apiVersion -> the file in scripts/schemas/ whose definitions hold each of its kinds. No PyPI or
# npm package ships these CRDs, and they cannot be fetched here.
PARTIAL_SCHEMAS = {
    "keda.sh/v1alpha1": "keda.sh-v1alpha1.json",
    "monitoring.coreos.com/v1": "monitoring.coreos.com-v1.json",
}
SCHEMAS = Path(__file__).parent / "schemas"


class CannotRender(Exception):
    pass


def render(folder: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k folder` would send. Raises ``CannotRender`` with kustomize's error."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise CannotRender("no kubectl on PATH (its kustomize renders k8s/; kubectl 1.27 or later)")
    done = subprocess.run(  # noqa: S603  # kubectl on our own folder
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CannotRender(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def render_components(root: Path, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The base with the components ``names``, through an overlay written for the purpose
    (kustomize accepts only relative paths, so it points back from its temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="taskhook-overlay-") as folder:
        back = Path(os.path.relpath(root, folder))
        overlay = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [str(back / "base")],
            "components": [str(back / "components" / name) for name in names],
        }
        (Path(folder) / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
        return render(Path(folder))


def renderings(root: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every way the manifests under ``root`` can be applied, named, as kustomize renders them."""
    for overlay in sorted((root / "overlays").iterdir()):
        yield f"overlay {overlay.relative_to(root)}", render(overlay)
    components = sorted(path.name for path in (root / "components").iterdir())
    for size in range(len(components) + 1):
        for names in itertools.combinations(components, size):
            yield f"base + {', '.join(names) or 'no component'}", render_components(root, names)
    for path in sorted(root.glob("*.yaml")):
        yield str(path.relative_to(root)), [d for d in yaml.safe_load_all(path.read_text()) if d]


def problems_with(document: dict[str, Any]) -> Iterator[str]:
    if document.get("apiVersion") in PARTIAL_SCHEMAS:
        yield from custom_resource_problems(document)
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = "/".join(str(part) for part in e.path) or "(top)"
            yield f"Kubernetes {version}: {where}: {e.message}"
        except kubernetes_validate.SchemaNotFoundError as e:
            yield f"Kubernetes {version}: {e.message}"


def custom_resource_problems(document: dict[str, Any]) -> Iterator[str]:
    """Problems with a custom resource, against the partial schema of its kind."""
    schema = json.loads((SCHEMAS / PARTIAL_SCHEMAS[document["apiVersion"]]).read_text())
    kind = document.get("kind")
    if kind not in schema["definitions"]:
        yield f"no schema for {kind} in scripts/schemas/{PARTIAL_SCHEMAS[document['apiVersion']]}"
        return
    validator = jsonschema.Draft7Validator({**schema, "$ref": f"#/definitions/{kind}"})
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        where = "/".join(str(part) for part in error.path) or "(top)"
        yield f"partial schema: {where}: {error.message}"


def main(folders: list[str]) -> int:
    failures = 0
    checked: set[str] = set()
    for folder in folders:
        root = Path(folder)
        try:
            for name, rendered in renderings(root):
                failures += validate(name, rendered, checked)
        except CannotRender as e:
            print(f"manifests: kustomize cannot render {folder}: {e}", file=sys.stderr)
            return 1
    print(f"manifests: {len(checked)} distinct documents checked, {failures} invalid")
    return 1 if failures else 0


def validate(rendering: str, rendered: list[dict[str, Any]], checked: set[str]) -> int:
    """How many documents of one rendering are invalid; each distinct one is checked once."""
    failures = 0
    for document in rendered:
        key = json.dumps(document, sort_keys=True)
        if key in checked:
            continue
        checked.add(key)
        name = f"{rendering}: {document.get('kind')}/{document.get('metadata', {}).get('name', '')}"
        if document.get("kind") in NOT_VALIDATED:
            print(f"skipped {name} ({NOT_VALIDATED[document['kind']]})")
            continue
        found = list(problems_with(document))
        for problem in found:
            print(f"INVALID {name}: {problem}", file=sys.stderr)
        failures += bool(found)
    return failures


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["k8s"]))
