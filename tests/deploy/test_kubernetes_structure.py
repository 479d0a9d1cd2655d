"""The Kubernetes base hangs together: files, selectors, scaling, security, the broker, the overlay.

Everything here reads what kustomize itself renders (`kubectl kustomize`, the code behind
`kubectl apply -k`); `make deploy-check` validates the same output against the API schemas.
"""

import itertools

import pytest
from yarl import URL

from tests.deploy.dockerfile import stages
from tests.deploy.manifests import (
    BASE,
    COMPONENTS,
    OVERLAYS,
    Document,
    base_resources,
    component_resources,
    container,
    find,
    kustomization,
    of_kind,
    pod_template,
    rendered,
    secret_example,
    selects,
    with_components,
)

OVERLAY = OVERLAYS / "example"


def everything() -> list[Document]:
    """The base with every optional component: what the checks below hold for together."""
    return with_components(*sorted(path.name for path in COMPONENTS.iterdir()))


def kind_of(kind: str) -> list[Document]:
    return [doc for doc in everything() if doc["kind"] == kind]


def pod_labels() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: pod_template(d)["metadata"]["labels"] for d in pod_owners()}


def workloads() -> list[Document]:
    return kind_of("Deployment")


def pod_owners() -> list[Document]:
    """Everything that runs pods: the Deployments (the components' too) and the CronJob."""
    return workloads() + kind_of("CronJob")


def test_every_manifest_file_is_listed_in_the_kustomization_and_every_listed_file_exists() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("kind", ["Service", "PodDisruptionBudget", "NetworkPolicy"])
def test_each_selector_picks_the_pods_of_exactly_one_workload(kind: str) -> None:
    for document in kind_of(kind):
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
    for deployment in of_kind("Deployment") + of_kind("CronJob"):  # the base's
        assert container(deployment)["image"].split(":")[0] == image["name"]


def test_every_secret_key_a_pod_reads_is_in_the_secret_example() -> None:
    example = secret_example()
    for deployment in pod_owners():  # a component's consumer included
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
    for policy in kind_of("NetworkPolicy"):  # the components' consumer too
        broker_rules = [
            rule
            for rule in policy["spec"]["egress"]
            if any(peer.get("podSelector") for peer in rule.get("to", []))
        ]
        assert [rule["to"][0]["podSelector"]["matchLabels"] for rule in broker_rules] == [
            {"app.kubernetes.io/name": name}
        ]
        assert [port["port"] for port in broker_rules[0]["ports"]] == [url.port]


def names(documents: list[Document]) -> set[tuple[str, str]]:
    return {(doc["kind"], doc["metadata"]["name"]) for doc in documents}


def test_the_example_overlay_is_the_base_and_its_component_in_its_namespace_and_image() -> None:
    overlay = rendered(OVERLAY)
    assert names(overlay) == names(base_resources()) | names(component_resources("observability"))
    assert {doc["metadata"]["namespace"] for doc in overlay} == {"taskhook"}
    (image,) = kustomization(OVERLAY)["images"]
    for workload in (d for d in overlay if d["kind"] in ("Deployment", "CronJob")):
        assert container(workload)["image"] == f"{image['newName']}:{image['newTag']}"
    assert find("Deployment", "taskhook-consumer-tasks", overlay)["spec"]["replicas"] == 3


COMBINATIONS = [
    combination
    for size in range(len(list(COMPONENTS.iterdir())) + 1)
    for combination in itertools.combinations(sorted(p.name for p in COMPONENTS.iterdir()), size)
]


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda c: "+".join(c) or "base")
def test_every_combination_of_components_renders_and_adds_only_its_own(
    combination: tuple[str, ...],
) -> None:
    together = names(with_components(*combination))
    expected = names(base_resources()).union(
        *(names(component_resources(name)) for name in combination)
    )
    assert together == expected
