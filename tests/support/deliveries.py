"""Building deliveries the way Livepeer's sender does: compact JSON, stamped, signed."""

from pathlib import Path
from typing import Any

import orjson

from taskhook.clock import now_ms
from taskhook.core.signature import sign

SECRET = "test-secret"
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "livepeer"
"""The project's own sample deliveries, one compact body per file (see its README.md)."""


def sample_names() -> list[str]:
    names = sorted(path.name for path in SAMPLES_DIR.glob("*.json"))
    assert names, f"no samples in {SAMPLES_DIR}"
    return names


FAMILIES_DIR = SAMPLES_DIR / "families"
"""Deliveries of every other family, and the playback gate request (``playback.accessControl``)."""
GATE_SAMPLE = "playback.accessControl.json"


def family_sample_names() -> list[str]:
    """Every family sample that is a delivery (the gate request is not)."""
    names = sorted(path.name for path in FAMILIES_DIR.glob("*.json") if path.name != GATE_SAMPLE)
    assert names, f"no samples in {FAMILIES_DIR}"
    return names


def load_family_sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((FAMILIES_DIR / name).read_bytes())
    return document


def load_sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SAMPLES_DIR / name).read_bytes())
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
