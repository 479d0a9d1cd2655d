"""The README and the pages in docs/ name only metrics, variables, commands and files that exist.

Documentation rots quietly: a metric is renamed, a module moves, a page is split and its links
still point at the old one. Each check here reads every page, so a change that breaks what a
page promises fails a test instead of misleading the next reader.
"""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from taskhook.metrics import ConsumerMetrics, Metrics
from taskhook.settings import ConsoleSettings, ConsumerSettings, ReconcileSettings, Settings
from tests.deploy.dockerfile import ROOT
from tests.deploy.manifests import env_names, parse_command

SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Where variables that are not settings are read: the tests, the scripts and the Makefile.
READ_FROM_THE_ENVIRONMENT = re.compile(
    r"""(?:environ\.get\(|environ\[|getenv\()\s*["'](TASKHOOK_[A-Z_]+)["']|\$\((TASKHOOK_[A-Z_]+)\)"""
)
FENCE = re.compile(r"^\s*```")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"(?:service|tests|scripts|docker|k8s|docs)/[\w./-]*")
MODULE = re.compile(r"taskhook(?:\.[a-z_]+)+")
# A whole name, not a family such as TASKHOOK_CONSUMER_*.
VARIABLE = re.compile(r"\bTASKHOOK_[A-Z_]+\b(?!\*)")


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


every_page = pytest.mark.parametrize("page", PAGES, ids=page_id)


def prose(text: str) -> str:
    """The text outside fenced code blocks: console output and diagrams are not links."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def code_lines(text: str) -> list[str]:
    """Every line inside a fenced code block, and every inline code span."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            lines.append(line.strip())
    return lines + INLINE_CODE.findall(prose(text))


def all_text() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def test_the_pages_are_there() -> None:
    names = {page_id(page) for page in PAGES}
    assert {"README.md", "docs/endpoint.md", "docs/consumers.md", "docs/operations.md"} <= names


def test_every_metric_the_docs_name_is_exported() -> None:
    registries = (Metrics.create().registry, ConsumerMetrics.create().registry)
    families = {family.name for registry in registries for family in registry.collect()}
    exported = {family + suffix for family in families for suffix in SUFFIXES}
    named = set(re.findall(r"\btaskhook_[a-z_]+", all_text()))
    assert named, "the docs no longer name any metric: has the pattern gone stale?"
    assert named <= exported


def variables_read_elsewhere() -> set[str]:
    """Variables the test suite, the scripts or the Makefile read, which are not settings."""
    sources = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "scripts").iterdir(), ROOT / "Makefile"]
    found: set[str] = set()
    for source in filter(Path.is_file, sources):
        for match in READ_FROM_THE_ENVIRONMENT.finditer(source.read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def every_setting() -> set[str]:
    return (
        env_names(Settings)
        | env_names(ConsumerSettings)
        | env_names(ReconcileSettings)
        | env_names(ConsoleSettings)
    )


def test_every_variable_the_docs_name_is_read_somewhere() -> None:
    named = set(VARIABLE.findall(all_text()))
    assert named, "the docs no longer name any variable: has the pattern gone stale?"
    assert named - every_setting() <= variables_read_elsewhere()


def test_the_configuration_page_lists_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    listed = set(VARIABLE.findall(page))
    assert every_setting() <= listed


def shown_commands(text: str) -> list[list[str]]:
    """Every ``taskhook`` command line a page shows, as the words after ``taskhook``."""
    commands = []
    for line in code_lines(text):
        if "bin/taskhook " not in line:
            continue
        words = shlex.split(line.removeprefix("$ "), comments=True)
        while words and "=" in words[0]:  # VARIABLE=value before the command
            words.pop(0)
        if words and words[0].endswith("/taskhook"):
            commands.append(words[1:])
    return commands


@every_page
def test_every_command_a_page_shows_is_one_the_cli_takes(page: Path) -> None:
    for words in shown_commands(page.read_text()):
        assert parse_command(words).command == words[0]


def test_the_docs_show_every_operator_command() -> None:
    shown = {words[0] for page in PAGES for words in shown_commands(page.read_text())}
    assert shown >= {"send", "tail", "inspect", "replay", "topology", "tasks", "consume"}


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub makes from a page's headings."""
    anchors: set[str] = set()
    for line in prose(page.read_text()).splitlines():
        if match := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchor, n = slug, 0
            while anchor in anchors:  # GitHub numbers a repeated heading
                n += 1
                anchor = f"{slug}-{n}"
            anchors.add(anchor)
    return anchors


def broken_links(page: Path) -> list[str]:
    """Relative links that leave the repo, lead nowhere, or name a heading the page lacks."""
    text = INLINE_CODE.sub("", prose(page.read_text()))  # a link's text may be code
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not leads_somewhere(resolved, anchor):
            broken.append(target)
    return broken


def leads_somewhere(resolved: Path, anchor: str) -> bool:
    if not resolved.is_relative_to(ROOT) or not resolved.exists():
        return False
    return not anchor or resolved.suffix != ".md" or anchor in heading_anchors(resolved)


@every_page
def test_every_relative_link_leads_to_a_file_in_the_repo(page: Path) -> None:
    assert broken_links(page) == []


@every_page
def test_every_path_and_module_a_page_names_exists(page: Path) -> None:
    """Code moves: a page that names a file or module names one that is still there."""
    spans = INLINE_CODE.findall(prose(page.read_text()))
    paths = [span for span in spans if REPO_PATH.fullmatch(span)]
    modules = [span for span in spans if MODULE.fullmatch(span)]
    assert [path for path in paths if not (ROOT / path).exists()] == []
    assert [name for name in modules if not importable(name)] == []


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing too
        return False
