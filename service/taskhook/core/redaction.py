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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"

# What Livepeer may send unmasked, by the wire keys of docs/livepeer-webhooks.md section 4.
DEFAULT_URL_PATHS = (
    "task.params.upload.url",
    "task.params.export.custom.url",
    "task.params.transcode-file.input.url",
    "task.params.transcode-file.storage.url",
    "task.params.clip.url",
    "task.output.transcodeFile.baseUrl",
)
DEFAULT_VALUE_PATHS = (
    "task.params.export.custom.headers.*",
    "task.params.export.ipfs.pinata.*",
    "task.params.exportData.ipfs.pinata.*",
    "task.params.upload.encryption.*",
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
        fired: list[str] = []
        for rule in self.rules:
            changed = _apply(body, rule.path, rule.url)
            if changed is not None:
                body = changed
                fired.append(rule.name)
        return body, tuple(fired)


DEFAULT_REDACTION = Redaction.configured()


def redact_url(url: str) -> str:
    """``https://host/path?REDACTED``: where it points, without credentials or query."""
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


def _apply(node: Any, path: tuple[str, ...], url: bool) -> Any | None:
    """A copy of ``node`` with the rule applied below it, or None when nothing changed."""
    if not path:
        return _redact_leaf(node, url)
    head, rest = path[0], path[1:]
    if isinstance(node, Mapping):
        keys = list(node) if head == "*" else [head] if head in node else []
        updates = {key: new for key in keys if (new := _apply(node[key], rest, url)) is not None}
        return {**node, **updates} if updates else None
    if isinstance(node, list) and head == "*":
        items = [_apply(item, rest, url) for item in node]
        if all(item is None for item in items):
            return None
        return [old if new is None else new for old, new in zip(node, items, strict=True)]
    return None


def _redact_leaf(value: Any, url: bool) -> Any | None:
    if isinstance(value, str):
        new = redact_url(value) if url else REDACTED
        return new if new != value else None
    if isinstance(value, Mapping):  # every string inside, keys kept
        return _apply(value, ("*",), url)
    if isinstance(value, list):
        return _apply(value, ("*",), url)
    return None
