"""The reconcile CronJob agrees with the code: its command, its settings, its schedule."""

import pytest

from taskhook.cli.reconcile import duration_ms
from taskhook.settings import ReconcileSettings
from tests.deploy.manifests import (
    Document,
    container,
    env_names,
    environment,
    find,
    from_environment,
    parse_command,
    pod_template,
)

SCHEDULE_MS = 15 * 60 * 1000


@pytest.fixture
def cronjob() -> Document:
    return find("CronJob", "taskhook-reconcile")


def test_its_variables_are_all_read_and_accepted_by_the_reconcile_settings(
    cronjob: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(cronjob)
    assert not set(env) - env_names(ReconcileSettings), "a variable it would silently ignore"
    settings = from_environment(ReconcileSettings, env, monkeypatch)
    assert settings.studio_api_key.get_secret_value()


def test_it_runs_reconcile_with_a_window_that_overlaps_the_runs_before_it(
    cronjob: Document,
) -> None:
    spec = container(cronjob)
    assert "command" not in spec, "the image's entrypoint is `taskhook`; only args are set"
    args = parse_command(spec["args"])
    assert args.command == "reconcile"
    assert not args.dry_run
    assert args.since >= 2 * SCHEDULE_MS  # one missed run still leaves no gap
    assert cronjob["spec"]["schedule"] == "*/15 * * * *"


def test_runs_never_overlap_and_a_hung_one_ends_before_the_next(cronjob: Document) -> None:
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] * 1000 < SCHEDULE_MS
    assert pod_template(cronjob)["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize(("text", "ms"), [("90s", 90_000), ("3h", 10_800_000), ("7d", 604_800_000)])
def test_durations_read_as_the_docs_write_them(text: str, ms: int) -> None:
    assert duration_ms(text) == ms
