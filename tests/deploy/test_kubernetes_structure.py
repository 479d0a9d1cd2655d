"""The Kubernetes base hangs together: files, selectors, scaling, security, the broker, the overlay.

Without a kustomize binary here, the overlay is rendered by the little that it uses: the base's
resources, the optional components (their resources, generated ConfigMaps and patches), a
namespace, an image, and JSON patches that replace or remove a value, in kustomize's order.
"""

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from yarl import URL

from tests.deploy.dockerfile import stages
from tests.deploy.manifests import (
    COMPONENTS,
    K8S,
    Document,
    base_resources,
    component,
    component_resources,
    container,
    find,
    kustomization,
    of_kind,
    pod_template,
    secret_example,
    selects,
)

NOT_RESOURCES = {"kustomization.yaml", "secret.example.yaml"}
OVERLAY = K8S / "overlays" / "example"


def pod_labels() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: pod_template(d)["metadata"]["labels"] for d in pod_owners()}


def workloads() -> list[Document]:
    return of_kind("Deployment")


def pod_owners() -> list[Document]:
    """Everything that runs pods: the Deployments and the reconcile CronJob."""
    return workloads() + of_kind("CronJob")


def test_every_manifest_file_is_listed_in_the_kustomization_and_every_listed_file_exists() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - NOT_RESOURCES
    assert listed == on_disk
    assert all((K8S / name).is_file() for name in listed)


@pytest.mark.parametrize("kind", ["Service", "PodDisruptionBudget", "NetworkPolicy"])
def test_each_selector_picks_the_pods_of_exactly_one_workload(kind: str) -> None:
    for document in of_kind(kind):
        spec = document["spec"]
        selector = spec.get("selector") or spec["podSelector"]
        selector = selector.get("matchLabels", selector)
        chosen = [name for name, labels in pod_labels().items() if selects(selector, labels)]
        assert len(chosen) == 1, f"{kind}/{document['metadata']['name']} selects {chosen}"


def test_each_workload_selector_and_spread_match_its_own_pods_only() -> None:
    for deployment in workloads():
        name = deployment["metadata"]["name"]
        template = deployment["spec"]["template"]
        selectors = [deployment["spec"]["selector"]["matchLabels"]] + [
            c["labelSelector"]["matchLabels"] for c in template["spec"]["topologySpreadConstraints"]
        ]
        for selector in selectors:
            chosen = [other for other, labels in pod_labels().items() if selects(selector, labels)]
            assert chosen == [name]


def test_the_hpa_owns_the_ingest_replica_count() -> None:
    hpa = find("HorizontalPodAutoscaler", "taskhook")
    target = hpa["spec"]["scaleTargetRef"]
    deployment = find(target["kind"], target["name"])
    # A replica count in the Deployment would undo the HPA's choice on every `kubectl apply`.
    assert "replicas" not in deployment["spec"]
    pdb = find("PodDisruptionBudget", "taskhook")
    assert hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["maxUnavailable"] + 1


def test_pods_run_as_the_image_user_with_nothing_to_escalate() -> None:
    uid, _, gid = stages()["runtime"].last("USER").arguments.partition(":")
    for deployment in pod_owners():
        pod = pod_template(deployment)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            int(uid),
            int(gid),
        )
        restricted = container(deployment)["securityContext"]
        assert restricted["readOnlyRootFilesystem"] is True
        assert restricted["allowPrivilegeEscalation"] is False
        assert restricted["capabilities"]["drop"] == ["ALL"]
        limits = container(deployment)["resources"]["limits"]
        assert {"cpu", "memory"} <= set(limits)


def test_every_workload_runs_the_image_the_kustomization_sets() -> None:
    (image,) = kustomization()["images"]
    for deployment in pod_owners():
        assert container(deployment)["image"].split(":")[0] == image["name"]


def test_every_secret_key_a_pod_reads_is_in_the_secret_example() -> None:
    example = secret_example()
    for deployment in pod_owners():
        for variable in container(deployment).get("env", []):
            if "valueFrom" in variable:
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["name"] == example["metadata"]["name"]
                assert reference["key"] in example["stringData"]


def test_the_broker_is_three_nodes_that_the_amqp_url_and_network_policies_name() -> None:
    (broker,) = of_kind("RabbitmqCluster")
    name = broker["metadata"]["name"]
    # Quorum queues keep a message once a majority has it: 3 nodes survive the loss of one.
    assert broker["spec"]["replicas"] == 3
    url = URL(secret_example()["stringData"]["TASKHOOK_AMQP_URL"])
    assert (url.host, url.port) == (name, 5672)  # the operator's Service is named after it
    for policy in of_kind("NetworkPolicy"):
        broker_rules = [
            rule
            for rule in policy["spec"]["egress"]
            if any(peer.get("podSelector") for peer in rule.get("to", []))
        ]
        assert [rule["to"][0]["podSelector"]["matchLabels"] for rule in broker_rules] == [
            {"app.kubernetes.io/name": name}
        ]
        assert [port["port"] for port in broker_rules[0]["ports"]] == [url.port]


def render_overlay(folder: Path, extra_components: tuple[str, ...] = ()) -> list[Document]:
    """The overlay in ``folder`` as kustomize renders it, with ``extra_components`` added to its
    own: the base, then the components in order, then the overlay's image, namespace, patches."""
    overlay = kustomization(folder)
    assert [(folder / r).resolve() for r in overlay["resources"]] == [K8S.resolve()]
    documents = copy.deepcopy(base_resources())
    names = [
        str((folder / path).resolve().relative_to(COMPONENTS.resolve()))
        for path in overlay.get("components", [])
    ]
    for name in [*names, *extra_components]:
        documents += copy.deepcopy(component_resources(name))
        patch_all(documents, component(name).get("patches", []))
    (image,) = overlay["images"]
    for document in documents:
        document["metadata"]["namespace"] = overlay["namespace"]
        if document["kind"] in ("Deployment", "CronJob"):
            set_image(container(document), image)
    patch_all(documents, overlay["patches"])
    return documents


def patch_all(documents: list[Document], patches: list[Document]) -> None:
    for patch in patches:
        target = find(patch["target"]["kind"], patch["target"]["name"], documents)
        for operation in yaml.safe_load(patch["patch"]):
            apply_operation(target, operation)


def set_image(spec: Document, image: Document) -> None:
    assert spec["image"].startswith(image["name"] + ":")
    spec["image"] = f"{image['newName']}:{image['newTag']}"


def apply_operation(target: Document, operation: Document) -> None:
    """A JSON patch ``replace`` or ``remove``. Its path must exist: kustomize refuses a remove
    of a missing path, and a replace of one silently adds it, which here would be a mistake
    (an overlay patching what a component removed)."""
    assert operation["op"] in ("replace", "remove"), "only replace and remove are rendered here"
    *parents, leaf = operation["path"].strip("/").split("/")
    node = target
    for part in parents:
        node = node[part]
    assert leaf in node, f"{operation['path']} is not in {target['metadata']['name']}"
    if operation["op"] == "remove":
        del node[leaf]
    else:
        node[leaf] = operation["value"]


def test_the_example_overlay_renders_to_valid_manifests() -> None:
    rendered = render_overlay(OVERLAY)
    added = component_resources("observability")
    assert len(rendered) == len(base_resources()) + len(added)
    for document in rendered:
        if "." not in document["apiVersion"].split("/")[0]:  # built in; the CRs: validate_manifests
            kubernetes_validate.validate(document, "1.30.0", strict=True)
