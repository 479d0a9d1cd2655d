"""The README's Deploy section names only metrics and variables that exist."""

import re

from service.metrics import Metrics
from service.settings import ConsumerSettings, Settings
from tests.deploy.dockerfile import ROOT
from tests.deploy.manifests import env_names

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
