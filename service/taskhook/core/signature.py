"""Verifying the ``Livepeer-Signature`` header (docs/livepeer-webhooks.md section 2).

The header is ``t=<ms>,v1=<hex>``; ``v1`` is HMAC-SHA256 of the raw body bytes, keyed with the
webhook's shared secret. Several ``v1`` values and several secrets are accepted so a secret can be
rotated without dropping deliveries. Time and secrets are arguments: this module touches no clock.
"""

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import NamedTuple

from taskhook.core.errors import SignatureInvalid

_SHA256_HEX = re.compile("[0-9a-f]{64}")


class SignatureHeader(NamedTuple):
    """A parsed ``Livepeer-Signature`` header (a tuple: one is made per delivery)."""

    timestamp_ms: int
    signatures: tuple[str, ...]


def parse_signature_header(header: str | None) -> SignatureHeader:
    """Parse ``t=<ms>,v1=<hex>[,v1=<hex>...]``; unknown schemes are ignored.

    Raises ``SignatureInvalid`` with cause ``signature-missing`` or ``signature-malformed``.
    """
    if header is None or not header.strip():
        raise SignatureInvalid("signature-missing", "the Livepeer-Signature header is missing")
    timestamps: list[str] = []
    signatures: list[str] = []
    # One pass, every delivery: each element must be key=value before any other check.
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise _malformed(f"element {key[:20]!r} is not key=value")
        if key == "v1":
            signatures.append(value.lower())
        elif key == "t":
            timestamps.append(value)
    return _checked(timestamps, signatures)


def _checked(timestamps: list[str], signatures: list[str]) -> SignatureHeader:
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdecimal()):
        raise _malformed("it needs exactly one t=<milliseconds>")
    if not signatures:
        raise _malformed("it has no v1 signature")
    for signature in signatures:
        if _SHA256_HEX.fullmatch(signature) is None:
            raise _malformed("a v1 value is not 64 hex digits")
    return SignatureHeader(int(timestamps[0]), tuple(signatures))


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
    expected = [hmac.digest(secret, body, "sha256").hex() for secret in secrets]
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


def _malformed(why: str) -> SignatureInvalid:
    return SignatureInvalid(
        "signature-malformed", f"the Livepeer-Signature header is malformed: {why}"
    )
