"""Validate every Kubernetes manifest under the given folders against the API schemas, offline.

Each document is checked strictly (an unknown field, such as a misspelt probe, is an error)
against the oldest and the newest Kubernetes version we support. A kind with no bundled schema
fails, unless it is one of the few named below with the reason it is skipped. The custom
resources of the optional components (KEDA's, the Prometheus Operator's) are checked against
partial schemas written by hand in scripts/schemas/: strict on the fields taskhook uses.

    python scripts/validate_manifests.py k8s
"""

import json
import sys
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
    # kustomize's own input, never sent to the API server; tests/deploy checks what it names.
    "Kustomization": "kustomize configuration",
    "Component": "kustomize configuration (an optional component under k8s/components/)",
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


def documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path, document


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
    for folder in folders:
        for path, document in documents(Path(folder)):
            name = f"{path}: {document.get('kind')}/{document.get('metadata', {}).get('name', '')}"
            if document.get("kind") in NOT_VALIDATED:
                print(f"skipped {name} ({NOT_VALIDATED[document['kind']]})")
                continue
            found = list(problems_with(document))
            for problem in found:
                print(f"INVALID {name}: {problem}", file=sys.stderr)
            failures += bool(found)
    print(f"manifests: {failures} invalid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["k8s"]))
