"""The dashboard and alerts of k8s/components/observability/ agree with the code and the docs,
and the alerts do what they say: promtool checks the rules and runs their unit tests.

promtool is Prometheus's own rule checker (scripts/ensure-promtool puts it in the venv). The
rule file it reads is the PrometheusRule's ``spec`` written out, exactly what the Prometheus
Operator hands to Prometheus.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from taskhook.bootstrap import consumer_topology, topology
from taskhook.metrics import ConsumerMetrics, Metrics
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.deploy.dockerfile import ROOT
from tests.deploy.manifests import COMPONENTS, Document, component, component_resources

FOLDER = COMPONENTS / "observability"
PROMTOOL_TESTS = ROOT / "tests" / "deploy" / "promtool" / "rules.test.yaml"
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")
# Metrics the rules and the dashboard read that taskhook does not export, and whose they are.
# Each must still be named somewhere (test_every_foreign_metric_listed_here_is_used).
FOREIGN_METRICS = {
    # RabbitMQ's rabbitmq_prometheus plugin, endpoint /metrics/per-object (queue, vhost labels).
    "rabbitmq_queue_messages": "RabbitMQ: messages in a queue, ready and unacknowledged",
    "rabbitmq_queue_messages_ready": "RabbitMQ: messages ready for delivery",
    "rabbitmq_queue_messages_unacked": "RabbitMQ: messages delivered, not yet settled",
    "rabbitmq_alarms_memory_used_watermark": "RabbitMQ: 1 while a node's memory alarm is on",
    "rabbitmq_alarms_free_disk_space_watermark": "RabbitMQ: 1 while a node's disk alarm is on",
    "rabbitmq_identity_info": "RabbitMQ: one series per scraped node",
    # kube-state-metrics.
    "kube_deployment_status_replicas_available": "kube-state-metrics: a Deployment's ready pods",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics: a CronJob's last success",
    "kube_cronjob_created": "kube-state-metrics: when a CronJob was created",
}
# Words in the expressions that look like metric names and are PromQL's or Grafana's.
NOT_METRICS = {"histogram_quantile", "label_values"}
METRIC_LIKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
# Grafana's variables, and a value each can take, to hand the queries to promtool.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$vhost": ".*"}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = Path(sys.executable).parent / "promtool"
    if found.is_file():
        return str(found)
    on_path = shutil.which("promtool")
    if on_path is None:
        pytest.fail(
            "no promtool: run scripts/ensure-promtool .venv/bin (make test and make unit do)"
        )
    return on_path


def prometheus_rule() -> Document:
    (rule,) = [
        doc for doc in component_resources("observability") if doc["kind"] == "PrometheusRule"
    ]
    return rule


def alerts() -> dict[str, Document]:
    found: dict[str, Document] = {}
    for group in prometheus_rule()["spec"]["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] not in found, f"{rule['alert']} is defined twice"
            found[rule["alert"]] = rule
    return found


def dashboard() -> Document:
    document: Document = json.loads((FOLDER / "dashboard.json").read_text())
    return document


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard: its panels' and its variables'."""
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    queries = [target["expr"] for panel in panels for target in panel["targets"]]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def promtool_says(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # promtool is ours (scripts/ensure-promtool), and so are its arguments.
    return subprocess.run(  # noqa: S603
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


# --- the rules, by promtool ----------------------------------------------------------------


def write_rules(folder: Path, spec: Any) -> None:
    (folder / "rules.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def test_promtool_accepts_the_rules(promtool: str, tmp_path: Path) -> None:
    write_rules(tmp_path, prometheus_rule()["spec"])
    done = promtool_says(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_pass_their_promtool_unit_tests(promtool: str, tmp_path: Path) -> None:
    write_rules(tmp_path, prometheus_rule()["spec"])
    shutil.copy(PROMTOOL_TESTS, tmp_path / "rules.test.yaml")
    done = promtool_says(promtool, "test", "rules", "rules.test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_unit_tests_fail_on_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """promtool really compares: an alert that never fires fails its tests."""
    spec = prometheus_rule()["spec"]
    spec["groups"][0]["rules"][0]["expr"] = "vector(0) > 1"
    write_rules(tmp_path, spec)
    shutil.copy(PROMTOOL_TESTS, tmp_path / "rules.test.yaml")
    done = promtool_says(promtool, "test", "rules", "rules.test.yaml", cwd=tmp_path)
    assert done.returncode != 0, "a rule that never fires passed its tests"


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert has a case where it fires and one where it must not (an empty exp_alerts)."""
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == set(alerts())
    assert quiet == set(alerts())


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["summary"], name


# --- the rules and the docs ----------------------------------------------------------------


def table_rows(page: Path, header: str) -> list[list[str]]:
    """The cells of each row of the table whose header row starts with ``header``."""
    lines = page.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def code(cell: str) -> str | None:
    match = re.match(r"`([^`]+)`", cell)
    return match.group(1) if match else None


def documented_alerts() -> dict[str, tuple[str, str, str]]:
    """Alert name to (expression, for, severity), from the tables of Operations and Reconcile."""
    documented: dict[str, tuple[str, str, str]] = {}
    operations = ROOT / "docs" / "operations.md"
    for name, expr, duration, severity, _why in table_rows(operations, "| alert | expression"):
        documented[str(code(name))] = (str(code(expr)), duration, severity)
    reconcile = ROOT / "docs" / "reconcile.md"
    for name, signal, _why in table_rows(reconcile, "| alert | signal"):
        if code(name) is None:
            # A log line (`recovered=`), not a metric: the docs say a log pipeline watches it.
            assert "summary line" in signal
            continue
        written = re.fullmatch(r"`[^`]+` \((\w+)\)", signal)
        assert written, f"{name}: write the signal as `expression` (severity)"
        documented[str(code(name))] = (str(code(signal)), "", written.group(1))
    return documented


def test_the_docs_tables_and_the_rules_name_the_same_alerts_alike() -> None:
    rules = {
        name: (rule["expr"], rule.get("for", ""), rule["labels"]["severity"])
        for name, rule in alerts().items()
    }
    assert documented_alerts() == rules


# --- the dashboard -------------------------------------------------------------------------


def test_every_dashboard_query_parses(promtool: str, tmp_path: Path) -> None:
    """Each query, Grafana's variables filled in, as a recording rule for promtool to parse."""
    rules = []
    for n, query in enumerate(dashboard_queries()):
        if query.startswith("label_values("):  # Grafana's, not PromQL: check its metric only
            query = query.removeprefix("label_values(").rsplit(",", 1)[0]
        for variable, value in GRAFANA_VARIABLES.items():
            query = query.replace(variable, value)
        assert "$" not in query, f"a Grafana variable this test does not know: {query}"
        rules.append({"record": f"dashboard:query_{n}", "expr": query})
    write_rules(tmp_path, {"groups": [{"name": "dashboard", "rules": rules}]})
    done = promtool_says(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_is_grafana_json_with_a_chosen_data_source() -> None:
    board = dashboard()
    assert board["uid"] == "taskhook"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_the_dashboard_shows_every_taskhook_metric() -> None:
    named = {m for query in dashboard_queries() for m in METRIC_LIKE.findall(query)}
    families = {family.name for registry in registries() for family in registry.collect()}
    shown = {family for family in families if any(family + s in named for s in SUFFIXES)}
    assert shown == families


def test_the_dashboard_ships_as_a_configmap_grafana_loads() -> None:
    (configmap,) = [d for d in component_resources("observability") if d["kind"] == "ConfigMap"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["taskhook.json"]) == dashboard()
    kubernetes_validate.validate(configmap, "1.30.0", strict=True)
    # `kubectl apply` keeps a copy in an annotation, which may hold at most 256 KiB.
    assert len(configmap["data"]["taskhook.json"].encode()) < 200 * 1024


def test_the_component_lists_every_file_in_its_folder() -> None:
    spec = component("observability")
    used = set(spec["resources"]) | {
        entry.rpartition("=")[2] for g in spec["configMapGenerator"] for entry in g["files"]
    }
    assert used == {p.name for p in FOLDER.iterdir()} - {"kustomization.yaml"}


# --- every metric named is one that exists -------------------------------------------------


def registries() -> list[Any]:
    return [Metrics.create().registry, ConsumerMetrics.create().registry]


def named_metrics() -> set[str]:
    expressions = [rule["expr"] for rule in alerts().values()] + dashboard_queries()
    return {m for e in expressions for m in METRIC_LIKE.findall(e)} - NOT_METRICS


def test_every_metric_the_dashboard_and_the_rules_name_is_exported() -> None:
    families = {family.name for registry in registries() for family in registry.collect()}
    exported = {family + suffix for family in families for suffix in SUFFIXES}
    taskhooks = {name for name in named_metrics() if name.startswith("taskhook_")}
    assert taskhooks, "no taskhook metric found: has the pattern gone stale?"
    assert named_metrics() - set(FOREIGN_METRICS) <= exported


def test_every_foreign_metric_listed_here_is_used() -> None:
    assert set(FOREIGN_METRICS) <= named_metrics()


def test_the_queues_named_are_the_ones_taskhook_declares() -> None:
    settings = ConsumerSettings()
    ingest, consumer = topology(settings), consumer_topology(tasks, settings)
    text = (FOLDER / "prometheusrule.yaml").read_text() + (FOLDER / "dashboard.json").read_text()
    named = set(re.findall(r'queue="([^"]+)"', text))
    assert named == {ingest.rejected_queue, ingest.unrouted_queue}
    # The consumers' queues by pattern: taskhook.<name>, its retry and dead queues after dots.
    assert re.fullmatch(r"taskhook\.[^.]+", consumer.queue)
    assert re.fullmatch(r"taskhook\..+\.dead", consumer.dead_queue)
    assert not re.fullmatch(r"taskhook\.[^.]+", consumer.retry_queue(5000))
