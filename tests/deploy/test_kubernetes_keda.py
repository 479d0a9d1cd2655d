"""The optional KEDA component scales the tasks consumer on the queue the code declares, with
the URL the consumer reads, and leaves the replica count to the autoscaler KEDA makes.

kubernetes-validate has no KEDA schemas: scripts/validate_manifests.py checks the fields against
a partial schema written by hand (scripts/schemas/), and what they mean is checked here.
"""

import kubernetes_validate

from taskhook.bootstrap import consumer_topology
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.deploy.manifests import (
    COMPONENTS,
    OVERLAYS,
    Document,
    component_resources,
    container,
    find,
    kustomization,
    rendered,
    with_components,
)


def scaled_object() -> Document:
    return find("ScaledObject", "taskhook-consumer-tasks", component_resources("keda"))


def with_keda() -> list[Document]:
    """The base with the component, as kustomize renders it."""
    return with_components("keda")


def test_it_scales_the_consumer_deployment_on_its_own_queue() -> None:
    spec = scaled_object()["spec"]
    target = spec["scaleTargetRef"]
    deployment = find(target["kind"], target["name"])
    assert container(deployment)["args"] == ["consume", tasks.name]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == consumer_topology(tasks, ConsumerSettings()).queue
    assert trigger["metadata"]["mode"] == "QueueLength"


def test_it_reads_the_broker_url_the_consumer_reads() -> None:
    (trigger,) = scaled_object()["spec"]["triggers"]
    auth = find(
        "TriggerAuthentication", trigger["authenticationRef"]["name"], component_resources("keda")
    )
    (reference,) = auth["spec"]["secretTargetRef"]
    assert reference["parameter"] == "host"  # the rabbitmq scaler's name for the URL
    consumer = container(find("Deployment", "taskhook-consumer-tasks"))
    read = {
        (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
        for v in consumer["env"]
        if v["name"] == "TASKHOOK_AMQP_URL"
    }
    assert read == {(reference["name"], reference["key"])}


def test_the_autoscaler_owns_the_replica_count_and_keeps_two() -> None:
    documents = with_keda()
    deployment = find("Deployment", "taskhook-consumer-tasks", documents)
    # A count in the Deployment would undo the autoscaler's choice on every `kubectl apply`.
    assert "replicas" not in deployment["spec"]
    assert "replicas" in find("Deployment", "taskhook-consumer-tasks")["spec"]  # base unchanged
    spec = scaled_object()["spec"]
    pdb = find("PodDisruptionBudget", "taskhook-consumer-tasks", documents)
    # Two at least, as the Deployment had: a drain or a rollout never stops consumption, and
    # never zero, since the replicas also serve the /tasks API.
    assert spec["minReplicaCount"] >= 2
    assert spec["minReplicaCount"] > pdb["spec"]["maxUnavailable"]
    assert spec["maxReplicaCount"] > spec["minReplicaCount"]


def test_the_scaling_behaviour_is_a_valid_hpa_behaviour() -> None:
    """KEDA copies it into the HPA it makes: check it against autoscaling/v2's schema."""
    behavior = scaled_object()["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-taskhook-consumer-tasks"},
        "spec": {
            "scaleTargetRef": scaled_object()["spec"]["scaleTargetRef"],
            "minReplicas": 2,
            "maxReplicas": 8,
            "behavior": behavior,
        },
    }
    kubernetes_validate.validate(hpa, "1.30.0", strict=True)


def test_no_overlay_brings_back_the_replicas_keda_owns() -> None:
    # kustomize lets an overlay's `replace` of /spec/replicas bring the removed count back.
    keda = str(COMPONENTS / "keda")
    for folder in OVERLAYS.iterdir():
        listed = [(folder / c).resolve() for c in kustomization(folder).get("components", [])]
        if any(str(path) == keda for path in listed):
            deployment = find("Deployment", "taskhook-consumer-tasks", rendered(folder))
            assert "replicas" not in deployment["spec"], folder
