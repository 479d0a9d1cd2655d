"""Verifying the ``Livepeer-Signature`` header (docs/livepeer-webhooks.md section 2).

The header is ``t=<ms>,v1=<hex>``; ``v1`` is HMAC-SHA256 of the raw body bytes, keyed with the
webhook's shared secret. Several ``v1`` values and several secrets are accepted so a secret can be
rotated without dropping deliveries. Time and secrets are arguments: this module touches no clock.
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from taskhook.core.errors import SignatureInvalid

_HEX_DIGITS = frozenset("0123456789abcdef")
_SHA256_HEX_LEN = 64


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    """A parsed ``Livepeer-Signature`` header."""

    timestamp_ms: int
    signatures: tuple[str, ...]


def parse_signature_header(header: str | None) -> SignatureHeader:
    """Parse ``t=<ms>,v1=<hex>[,v1=<hex>...]``; unknown schemes are ignored.

    Raises ``SignatureInvalid`` with cause ``signature-missing`` or ``signature-malformed``.
    """
    if header is None or not header.strip():
        raise SignatureInvalid("signature-missing", "the Livepeer-Signature header is missing")
    elements = _split_elements(header)
    timestamps = [value for key, value in elements if key == "t"]
    signatures = [value.lower() for key, value in elements if key == "v1"]
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdecimal()):
        raise _malformed("it needs exactly one t=<milliseconds>")
    if not signatures:
        raise _malformed("it has no v1 signature")
    if not all(_is_sha256_hex(sig) for sig in signatures):
        raise _malformed("a v1 value is not 64 hex digits")
    return SignatureHeader(timestamp_ms=int(timestamps[0]), signatures=tuple(signatures))


def _split_elements(header: str) -> list[tuple[str, str]]:
    elements = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise _malformed(f"element {key[:20]!r} is not key=value")
        elements.append((key, value))
    return elements


def verify_signature(
    header: str | None,
    body: bytes,
    *,
    secrets: Sequence[bytes],
    now_ms: int,
    tolerance_ms: int,
) -> int:
    """Check ``header`` against ``body`` and return the header's timestamp (ms).

    Passes when any ``v1`` matches the HMAC under any secret (constant-time compare) and ``t`` is
    within ``tolerance_ms`` of ``now_ms`` in either direction. The caller must still check that
    the returned timestamp equals the body's ``timestamp`` once the body is parsed.
    Raises ``SignatureInvalid`` otherwise.
    """
    parsed = parse_signature_header(header)
    expected = [hmac.new(secret, body, hashlib.sha256).hexdigest() for secret in secrets]
    # Compare every pair without stopping early, so timing says nothing about which one matched.
    matched = False
    for want in expected:
        for got in parsed.signatures:
            matched |= hmac.compare_digest(want, got)
    if not matched:
        raise SignatureInvalid("signature-mismatch", "no v1 signature matches the body")
    if abs(now_ms - parsed.timestamp_ms) > tolerance_ms:
        raise SignatureInvalid(
            "signature-expired", "the signature timestamp is outside the accepted tolerance"
        )
    return parsed.timestamp_ms


def signing_secret(header: str | None, body: bytes, *, secrets: Sequence[bytes]) -> int | None:
    """The position in ``secrets`` of the one that signed ``body``, or None when none did (or
    the header is missing or malformed). For telling webhooks apart in a log line, after
    ``verify_signature`` passed; never on the way to accepting a delivery."""
    try:
        parsed = parse_signature_header(header)
    except SignatureInvalid:
        return None
    for index, secret in enumerate(secrets):
        want = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(want, got) for got in parsed.signatures):
            return index
    return None


def sign(body: bytes, secret: bytes, timestamp_ms: int) -> str:
    """Build the header Livepeer would send for ``body``: the sender's side, for tools and tests."""
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return f"t={timestamp_ms},v1={digest}"


def _is_sha256_hex(value: str) -> bool:
    return len(value) == _SHA256_HEX_LEN and set(value) <= _HEX_DIGITS


def _malformed(why: str) -> SignatureInvalid:
    return SignatureInvalid(
        "signature-malformed", f"the Livepeer-Signature header is malformed: {why}"
    )
