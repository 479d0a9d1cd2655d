"""A stand-in for a cluster, so the deploy page's commands run in order without one.

Run as ``python offline_cluster.py kubectl|docker ARGS...`` through wrappers put first on PATH
(``tests/deploy/test_deploy_page.py``). Whatever kubectl can do offline is done by the real one:
``apply -k`` renders with ``kubectl kustomize``, ``create`` runs with ``--dry-run=client``. What
only a cluster does is remembered in a JSON file: the namespaces and objects made so far, and
the Secret the RabbitMQ operator makes for each RabbitmqCluster applied. A command that reads
what was not made yet fails as a cluster would, which is how a step in the wrong order shows.
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

State = dict[str, Any]
STATE = Path(os.environ.get("OFFLINE_CLUSTER_STATE", "offline-cluster.json"))
REAL_KUBECTL = os.environ.get("OFFLINE_CLUSTER_KUBECTL", "kubectl")
NEEDS_A_CLUSTER = {"port-forward", "rollout", "logs", "exec"}


def load() -> State:
    if STATE.is_file():
        state: State = json.loads(STATE.read_text())
        return state
    return {"namespaces": ["default"], "objects": [], "log": []}


def save(state: State) -> None:
    STATE.write_text(json.dumps(state))


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def split_namespace(args: list[str]) -> tuple[str | None, list[str]]:
    namespace, rest, words = None, [], iter(args)
    for word in words:
        if word in ("-n", "--namespace"):
            namespace = next(words)
        elif word.startswith("--namespace="):
            namespace = word.partition("=")[2]
        else:
            rest.append(word)
    return namespace, rest


def kubectl(args: list[str], state: State) -> int:
    namespace, rest = split_namespace(args)
    state["log"].append(["kubectl", *args])
    verb = rest[0]
    if verb in NEEDS_A_CLUSTER:
        return 0
    if rest[:2] == ["create", "namespace"]:
        state["namespaces"].append(rest[2])
        return real([*rest, "--dry-run=client", "-o", "yaml"])
    target = namespace or "default"
    if target not in state["namespaces"]:
        return fail(f'Error from server (NotFound): namespaces "{target}" not found')
    if verb == "apply" and rest[1] == "-k":
        return apply(rest[2], namespace, state)
    if rest[:2] == ["create", "secret"]:
        state["objects"].append([target, "Secret", rest[3], secret_keys(rest)])
        return real([*args, "--dry-run=client", "-o", "yaml"], quiet=True)
    if verb == "wait":
        kind, _, name = rest[1].partition("/")
        return 0 if made(state, target, kind, name) else fail(f"{rest[1]} not found")
    if rest[:2] == ["get", "secret"]:
        return get_secret(rest, target, state)
    return fail(f"offline_cluster does not know `kubectl {' '.join(args)}`: teach it")


def apply(folder: str, namespace: str | None, state: State) -> int:
    done = subprocess.run(  # noqa: S603  # the real kubectl
        [REAL_KUBECTL, "kustomize", folder], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return fail(done.stderr.strip())
    for doc in (d for d in yaml.safe_load_all(done.stdout) if d):
        where = doc["metadata"].get("namespace") or namespace or "default"
        if where not in state["namespaces"]:
            return fail(f'Error from server (NotFound): namespaces "{where}" not found')
        state["objects"].append([where, doc["kind"], doc["metadata"]["name"], []])
        if doc["kind"] == "RabbitmqCluster":  # what the operator then makes
            name = f"{doc['metadata']['name']}-default-user"
            state["objects"].append([where, "Secret", name, ["username", "password"]])
    return 0


def get_secret(rest: list[str], namespace: str, state: State) -> int:
    name = rest[2]
    found = [
        keys
        for ns, kind, n, keys in state["objects"]
        if (ns, kind, n) == (namespace, "Secret", name)
    ]
    if not found:
        return fail(f'Error from server (NotFound): secrets "{name}" not found')
    path = rest[rest.index("-o") + 1].removeprefix("jsonpath=")
    key = path.strip("'{}").removeprefix(".data.")
    if key not in found[-1]:
        return fail(f"secret {name} has no key {key}")
    print(base64.b64encode(f"offline-{key}".encode()).decode(), end="")
    return 0


def made(state: State, namespace: str, kind: str, name: str) -> bool:
    return any(
        ns == namespace and k.lower() == kind.lower() and n == name
        for ns, k, n, _ in state["objects"]
    )


def secret_keys(rest: list[str]) -> list[str]:
    return [w.split("=", 2)[1] for w in rest if w.startswith("--from-literal=")]


def real(args: list[str], quiet: bool = False) -> int:
    done = subprocess.run(  # noqa: S603  # the real kubectl, offline
        [REAL_KUBECTL, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return fail(done.stderr.strip())
    if not quiet:
        print(done.stdout, end="")
    return 0


def docker(args: list[str], state: State) -> int:
    """Checks a build's Dockerfile and context exist; a push needs a built tag."""
    state["log"].append(["docker", *args])
    if args[0] == "build":
        words = args[1:]
        tag = words[words.index("-t") + 1]
        dockerfile = words[words.index("-f") + 1] if "-f" in words else None
        context = words[-1]
        if not Path(context).is_dir():
            return fail(f"docker build: no context {context}")
        if not Path(dockerfile or Path(context) / "Dockerfile").is_file():
            return fail(f"docker build: no Dockerfile {dockerfile or context + '/Dockerfile'}")
        state.setdefault("images", []).append(tag)
        return 0
    if args[0] == "push":
        return 0 if args[1] in state.get("images", []) else fail(f"no image {args[1]} built")
    return fail(f"offline_cluster does not know `docker {' '.join(args)}`: teach it")


def main(argv: list[str]) -> int:
    state = load()
    try:
        return {"kubectl": kubectl, "docker": docker}[argv[0]](argv[1:], state)
    finally:
        save(state)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
