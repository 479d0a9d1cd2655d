"""Keeping credentials out of what is published to the events exchange.

Livepeer masks some credentials before sending (storage passwords, Pinata keys) but not all: an
export's presigned upload URL and its request headers arrive as they were given, and a URL can
carry ``user:password@``. What is published goes to every consumer of the exchange, so those
values are redacted in the published body by default (docs/publishing.md lists the paths). The
shape is kept: a redacted string is still a string, an object keeps its keys.

Paths are dotted keys into the published body (``task`` is the task snapshot); ``*`` matches any
key or list item. Two kinds of rule: a *URL* rule keeps a URL's scheme, host and path and drops
its credentials and query (where a presigned URL's signature lives); a *value* rule replaces
every string under the path.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"

# What Livepeer may send unmasked, by the wire keys of docs/livepeer-webhooks.md section 4.
DEFAULT_URL_PATHS = (
    "task.params.upload.url",
    "task.params.import.url",  # the older Task shape (docs/livepeer-webhooks.md section 5)
    "task.clip.url",  # the older shape's clip, at the top of the task
    "task.params.export.custom.url",
    "task.params.transcode-file.input.url",
    "task.params.transcode-file.storage.url",
    "task.params.clip.url",
    "task.output.transcodeFile.baseUrl",
    "asset.source.url",  # the URL an asset was imported from may be presigned
)
DEFAULT_VALUE_PATHS = (
    "task.params.export.custom.headers.*",
    "task.params.export.ipfs.pinata.*",
    "task.params.exportData.ipfs.pinata.*",
    "task.params.upload.encryption.*",
    "task.params.import.encryption.*",
)


@dataclass(frozen=True, slots=True)
class Rule:
    path: tuple[str, ...]
    url: bool  # a URL: keep where it points, drop credentials and query

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Redaction:
    """The rules applied to every published body; ``Redaction(())`` redacts nothing."""

    rules: tuple[Rule, ...]
    # The rules as a tree of keys, so one walk down the body serves them all: a body is
    # published per request, and most of these paths are absent from any one event.
    _tree: "Tree" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", _tree_of(self.rules))

    @classmethod
    def configured(cls, *, enabled: bool = True, extra_paths: Iterable[str] = ()) -> "Redaction":
        """The default rules and ``extra_paths`` (value rules), or none when not ``enabled``."""
        if not enabled:
            return cls(())
        rules = [Rule(tuple(path.split(".")), url=True) for path in DEFAULT_URL_PATHS]
        rules += [Rule(tuple(path.split(".")), url=False) for path in DEFAULT_VALUE_PATHS]
        rules += [Rule(tuple(path.strip().split(".")), url=False) for path in extra_paths]
        return cls(tuple(rules))

    def apply(self, body: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """``body`` with every rule applied, and the names of the rules that changed something.

        ``body`` itself is never changed: what a rule changes is copied, the rest is shared.
        """
        if not self._tree:
            return body, ()
        fired: dict[str, None] = {}  # ordered, unique
        changed = _walk(body, self._tree, fired)
        return (body if changed is None else changed), tuple(fired)


Tree = dict[str, "Tree | Rule"]


def _tree_of(rules: Iterable[Rule]) -> Tree:
    tree: Tree = {}
    for rule in rules:
        node = tree
        for key in rule.path[:-1]:
            child = node.setdefault(key, {})
            if isinstance(child, Rule):  # a rule above covers everything below it
                break
            node = child
        else:
            node[rule.path[-1]] = rule
    return tree


DEFAULT_REDACTION = Redaction.configured()


def redact_url(url: str) -> str:
    """``https://host/path?REDACTED``: where it points, without credentials or query."""
    if "@" not in url and "?" not in url and "#" not in url:
        return url  # nothing to take away (most URLs, and parsing one costs microseconds)
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        return url if "@" not in url and "?" not in url else REDACTED
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***:***@{host}" if "@" in parts.netloc else host
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_CREDENTIALS_IN_URL = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@]+@")


def mask_credentials(text: str) -> str:
    """``text`` with the user and password of every URL in it masked, as ``***:***@``: what an
    error message may quote (a driver's or a client's) is then fit for a log line."""
    return _CREDENTIALS_IN_URL.sub(r"\1***:***@", text)


def _walk(node: Any, tree: Tree, fired: dict[str, None]) -> Any | None:
    """A copy of ``node`` with the rules below ``tree`` applied, or None when nothing changed."""
    if type(node) is dict:
        return _walk_object(node, tree, fired)
    if type(node) is list and "*" in tree:
        items = [_step(item, tree["*"], fired) for item in node]
        if all(item is None for item in items):
            return None
        return [old if new is None else new for old, new in zip(node, items, strict=True)]
    return None


def _walk_object(node: dict[str, Any], tree: Tree, fired: dict[str, None]) -> Any | None:
    updates: dict[str, Any] = {}
    for key, below in tree.items():
        if key != "*":
            # The usual case, once per rule key per body: most keys are absent, so look first.
            if key in node:
                new = _step(updates.get(key, node[key]), below, fired)
                if new is not None:
                    updates[key] = new
            continue
        for name in list(node):
            # What an earlier rule already changed is the input of this one: a wildcard never
            # undoes a named rule's redaction, nor the other way round.
            new = _step(updates.get(name, node[name]), below, fired)
            if new is not None:
                updates[name] = new
    return {**node, **updates} if updates else None


def _step(value: Any, below: "Tree | Rule", fired: dict[str, None]) -> Any | None:
    if type(below) is dict:
        return (
            _walk_object(value, below, fired) if type(value) is dict else _walk(value, below, fired)
        )
    assert isinstance(below, Rule)
    new = _redact_leaf(value, below.url)
    if new is not None:
        fired[below.name] = None
    return new


def _redact_leaf(value: Any, url: bool) -> Any | None:
    """Every string in ``value`` redacted (an object keeps its keys), or None if none changed."""
    if isinstance(value, str):
        redacted = redact_url(value) if url else REDACTED
        return redacted if redacted != value else None
    if type(value) is dict:
        updates = {k: new for k, v in value.items() if (new := _redact_leaf(v, url)) is not None}
        return {**value, **updates} if updates else None
    if type(value) is list:
        items = [_redact_leaf(item, url) for item in value]
        if all(item is None for item in items):
            return None
        return [old if new is None else new for old, new in zip(value, items, strict=True)]
    return None


# A delivery as Livepeer sends it carries the task snapshot here; published, it is ``task``.
RAW_SNAPSHOT_PATH = ("payload", "task", "snapshot")


def redact_delivery(document: Any, redaction: Redaction = DEFAULT_REDACTION) -> Any:
    """A raw delivery as a person may see it: ``redaction``'s rules applied where the snapshot
    sits in a delivery, and every other URL anywhere without credentials or query.

    For showing a refused delivery, whose shape is by definition not the model's: a credential
    may sit where no rule looks, and a URL is where one usually hides.
    """
    if isinstance(document, dict):
        raw = Redaction(tuple(Rule(_raw_path(rule.path), rule.url) for rule in redaction.rules))
        document, _ = raw.apply(document)
    return _without_url_secrets(document)


def _raw_path(path: tuple[str, ...]) -> tuple[str, ...]:
    return (*RAW_SNAPSHOT_PATH, *path[1:]) if path[0] == "task" else path


def _without_url_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, dict):
        return {key: _without_url_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_url_secrets(item) for item in value]
    return value
