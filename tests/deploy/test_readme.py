"""The README names only metrics, variables and commands that exist."""

import re
import shlex

from taskhook.metrics import Metrics
from taskhook.settings import ConsumerSettings, Settings
from tests.deploy.dockerfile import ROOT
from tests.deploy.manifests import env_names, parse_command

SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


def deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Deploy\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_alerts_on_metrics_the_ingest_exports() -> None:
    families = {family.name for family in Metrics.create().registry.collect()}
    exported = {family + suffix for family in families for suffix in SUFFIXES}
    named = set(re.findall(r"\btaskhook_[a-z_]+", deploy_section()))
    assert named
    assert named <= exported


def test_consumer_and_ingest_variables_named_in_the_readme_are_settings() -> None:
    named = set(re.findall(r"\bTASKHOOK_[A-Z_]+", deploy_section()))
    assert named
    assert named <= env_names(Settings) | env_names(ConsumerSettings)


def readme_commands() -> list[list[str]]:
    """Every ``taskhook`` command line the README shows, as the words after ``taskhook``."""
    commands = []
    for line in (ROOT / "README.md").read_text().splitlines():
        words = (
            shlex.split(line.removeprefix("$ "), comments=True) if "bin/taskhook " in line else []
        )
        while words and "=" in words[0]:  # VARIABLE=value before the command
            words.pop(0)
        if words and words[0].endswith("/taskhook"):
            commands.append(words[1:])
    return commands


def test_every_command_the_readme_shows_is_one_the_cli_takes() -> None:
    commands = readme_commands()
    assert {words[0] for words in commands} >= {"send", "inspect", "replay", "topology", "tail"}
    for words in commands:
        parse_command(words)
