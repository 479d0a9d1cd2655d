"""The lock files pin what pyproject.toml asks for: every dependency, at a version in its range.

They are written by `make lock`; this catches a range changed in pyproject.toml without it.
"""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.deploy.dockerfile import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PINNED = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / lock).read_text()
    return {_name(name): Version(version) for name, version in PINNED.findall(text)}


def wanted(*extras: str) -> list[Requirement]:
    lines = PROJECT["dependencies"] + [
        d for e in extras for d in PROJECT["optional-dependencies"][e]
    ]
    return [Requirement(line) for line in lines]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("runtime.txt", ("otel",)),
        ("dev.txt", ("otel", "dev")),
        ("bench.txt", ("otel", "dev", "bench")),
    ],
)
def test_each_lock_pins_every_dependency_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    for requirement in wanted(*extras):
        name = _name(requirement.name)
        assert name in pinned, f"{name} is not in requirements/{lock}: run `make lock`"
        assert pinned[name] in requirement.specifier, f"{name} {pinned[name]}: run `make lock`"


def test_the_runtime_lock_holds_no_development_tool() -> None:
    assert not {"pytest", "mypy", "ruff", "uv"} & set(pins("runtime.txt"))
