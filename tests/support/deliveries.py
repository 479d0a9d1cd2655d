"""Building deliveries the way Livepeer's sender does: compact JSON, stamped, signed."""

import os
from pathlib import Path
from typing import Any

import orjson

from taskhook.core.signature import sign
from taskhook.ingest import now_ms

SECRET = "test-secret"


def samples_dir() -> Path:
    """``../shared/livepeer/samples`` beside the project, or ``TASKHOOK_SAMPLES_DIR``."""
    configured = os.environ.get("TASKHOOK_SAMPLES_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "livepeer" / "samples"


def sample_names() -> list[str]:
    names = sorted(path.name for path in samples_dir().glob("*.json"))
    assert names, f"no samples in {samples_dir()}"
    return names


def load_sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((samples_dir() / name).read_bytes())
    return document


def signed(
    document: dict[str, Any], *, secret: str = SECRET, at_ms: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Stamp ``timestamp``, serialise compactly and sign those bytes, as the sender does."""
    at_ms = now_ms() if at_ms is None else at_ms
    body = orjson.dumps({**document, "timestamp": at_ms})
    headers = {
        "Content-Type": "application/json",
        "Livepeer-Signature": sign(body, secret.encode(), at_ms),
    }
    return body, headers
