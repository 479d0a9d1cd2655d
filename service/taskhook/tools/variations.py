"""``taskhook send --set PATH=VALUE`` and ``--unset PATH``: a delivery varied before it is signed.

A path names a field of the delivery as sent, dot-separated, with list positions as numbers
(``payload.task.snapshot.params.export``, ``payload.task.snapshot.status.errorMessage``). A value
is read as JSON when it is JSON (``null``, ``42``, ``true``, ``{"custom": {...}}``, ``"quoted"``)
and is a plain string otherwise. Pure: the documents come in and go out as plain dicts.
"""

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

Document = dict[str, Any]
_ABSENT = object()


@dataclass(frozen=True)
class Variation:
    """One change: set ``path`` to ``value``, or remove it when ``value`` is absent."""

    path: tuple[str, ...]
    value: Any = _ABSENT

    @classmethod
    def setting(cls, text: str) -> "Variation":
        """``PATH=VALUE``. Raises ``ValueError`` for text without ``=`` or an empty path."""
        path, separator, raw = text.partition("=")
        if not separator:
            raise ValueError(f"{text!r} is not PATH=VALUE")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        return cls(_split(path), value)

    @classmethod
    def removal(cls, path: str) -> "Variation":
        return cls(_split(path))

    def applied_to(self, document: Document) -> None:
        """Change ``document`` in place. Raises ``ValueError`` naming the part of the path that
        does not exist (every part but the last must; the last may be new, or already absent)."""
        *parents, leaf = self.path
        node: Any = document
        for depth, part in enumerate(parents):
            node = _child(node, part, self.path[: depth + 1])
        if self.value is _ABSENT:
            # Absent already is fine (a life's spawned delivery has no payload.success), but
            # its parent must exist: a typo there is said as one.
            if isinstance(node, dict):
                node.pop(leaf, None)
            else:
                del node[_key(node, leaf)]
        elif isinstance(node, list):
            node[_key(node, leaf)] = copy.deepcopy(self.value)
        elif isinstance(node, dict):
            node[leaf] = copy.deepcopy(self.value)
        else:
            raise ValueError(f"{'.'.join(parents)} is a {type(node).__name__}, not an object")


def varied(documents: Iterable[Document], variations: list[Variation]) -> Iterator[Document]:
    """Each document with every variation applied, in order (the originals untouched)."""
    for document in documents:
        changed = copy.deepcopy(document)
        for variation in variations:
            variation.applied_to(changed)
        yield changed


def _split(path: str) -> tuple[str, ...]:
    parts = tuple(path.strip().split("."))
    if not all(parts):
        raise ValueError(f"{path!r} is not a path like payload.task.snapshot.outputAssetId")
    return parts


def _child(node: Any, part: str, where: tuple[str, ...]) -> Any:
    try:
        return node[_key(node, part)]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"the delivery has no {'.'.join(where)}") from None


def _key(node: Any, part: str) -> Any:
    if isinstance(node, list):
        if not part.lstrip("-").isdigit():
            raise ValueError(f"{part!r} is not a list position")
        return int(part)
    return part
