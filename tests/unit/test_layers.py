"""The import graph points one way: from the command line down to the pure core, never back up.

Every ``taskhook`` module's imports are read from its source (those inside functions too), so a
late import cannot hide an arrow that points the wrong way.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "service" / "taskhook"

# Higher layers may import lower ones and their own; a package listed here is one layer.
LAYERS = {
    "core": 0,
    "exposure": 0,
    "clock": 1,
    "settings": 1,
    "logs": 1,
    "tracing": 1,
    "metrics": 1,
    "application": 2,
    "broker": 2,
    "studio": 2,
    "replicas": 2,
    "http": 3,
    "tools": 4,
    "consumers": 4,
    "tasks": 5,
    "console": 5,
    "history": 5,  # the event index lives in the tasks database, beside the tasks table
    "bootstrap": 6,
    "cli": 7,
    "__main__": 8,
}
# What each layer must not reach, whatever the layers above say: the pure core touches no I/O
# library, and the application rules know neither HTTP nor AMQP.
NO_IO = ("aiohttp", "aio_pika", "aiormq", "pamqp", "sqlalchemy", "alembic", "uvloop", "redis")
EDGES = ("taskhook.broker", "taskhook.http", "taskhook.studio", "taskhook.replicas")
FORBIDDEN = {
    "core": NO_IO,
    "exposure": NO_IO,
    "application": NO_IO + EDGES,
    "broker.topology": ("aio_pika", "aiormq"),
    "studio": ("aio_pika", "aiormq", "taskhook.broker"),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(part for part in parts if part != "__init__")
        found[name or "__init__"] = path
    return found


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def layer_of(module: str) -> int:
    return LAYERS[module.split(".")[0]]


MODULES = modules()


@pytest.mark.parametrize("module", [m for m in MODULES if m != "__init__"])
def test_every_module_imports_only_its_own_layer_or_those_below(module: str) -> None:
    upward = [
        name
        for name in imported(MODULES[module])
        if name.startswith("taskhook.")
        and name.split(".")[1] in LAYERS
        and name.split(".")[1] != module.split(".")[0]
        and layer_of(name.removeprefix("taskhook.")) > layer_of(module)
    ]
    assert upward == []


@pytest.mark.parametrize(("scope", "libraries"), FORBIDDEN.items())
def test_the_pure_layers_import_no_io_library(scope: str, libraries: tuple[str, ...]) -> None:
    for module, path in MODULES.items():
        if module == scope or module.startswith(f"{scope}."):
            reached = {
                name
                for name in imported(path)
                if any(name == library or name.startswith(f"{library}.") for library in libraries)
            }
            assert reached == set(), module


def test_every_package_has_a_layer() -> None:
    assert {module.split(".")[0] for module in MODULES} - {"__init__"} <= set(LAYERS)
