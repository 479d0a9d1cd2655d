"""Finding consumers by name: every installed package can register some.

A package registers a consumer under the ``taskhook.consumers`` entry point group (taskhook's own
``tasks`` consumer is registered this way in ``pyproject.toml``). A consumer that is not
installed can still be named by its import path, ``package.module:attribute``.
"""

import importlib
from importlib.metadata import entry_points
from typing import Any

from taskhook.consumers.consumer import Consumer

ENTRY_POINT_GROUP = "taskhook.consumers"


class ConsumerNotFound(LookupError):
    pass


def registered() -> dict[str, Consumer[Any]]:
    """Every consumer installed packages register, by name."""
    found: dict[str, Consumer[Any]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        consumer = _checked(entry.load(), entry.value)
        found[consumer.name] = consumer
    return dict(sorted(found.items()))


def find(reference: str) -> Consumer[Any]:
    """The consumer named ``reference``, or imported from it when it is ``module:attribute``."""
    if ":" in reference:
        module_name, _, attribute = reference.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ConsumerNotFound(f"cannot import {module_name!r}: {e}") from e
        if not hasattr(module, attribute):
            raise ConsumerNotFound(f"{module_name!r} has no attribute {attribute!r}")
        return _checked(getattr(module, attribute), reference)
    consumers = registered()
    if reference not in consumers:
        known = ", ".join(consumers) or "none"
        raise ConsumerNotFound(f"no consumer named {reference!r} (registered: {known})")
    return consumers[reference]


def _checked(candidate: object, where: str) -> Consumer[Any]:
    if not isinstance(candidate, Consumer):
        raise ConsumerNotFound(f"{where} is a {type(candidate).__name__}, not a Consumer")
    return candidate
