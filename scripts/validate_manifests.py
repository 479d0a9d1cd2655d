"""Validate every Kubernetes manifest under the given folders against the API schemas, offline.

Each document is checked strictly (an unknown field, such as a misspelt probe, is an error)
against the oldest and the newest Kubernetes version we support. A kind with no bundled schema
fails, unless it is one of the few named below with the reason it is skipped.

    python scripts/validate_manifests.py k8s
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

# 1.30: the oldest with the preStop `sleep` action on by default (beta; GA in 1.34).
# 1.37: the newest whose schemas kubernetes-validate ships at the version pinned in pyproject.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

NOT_VALIDATED = {
    # kustomize's own input, never sent to the API server; tests/deploy checks what it names.
    "Kustomization": "kustomize configuration",
    # A custom resource: kubernetes-validate ships only built-in kinds, and the operator's CRD
    # cannot be fetched here. tests/deploy checks the fields taskhook relies on.
    "RabbitmqCluster": "custom resource of the RabbitMQ Cluster Operator",
}


def documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path, document


def problems_with(document: dict[str, Any]) -> Iterator[str]:
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = "/".join(str(part) for part in e.path) or "(top)"
            yield f"Kubernetes {version}: {where}: {e.message}"
        except kubernetes_validate.SchemaNotFoundError as e:
            yield f"Kubernetes {version}: {e.message}"


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
