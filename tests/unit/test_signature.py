import hashlib
import hmac

import pytest

from taskhook.core.errors import SignatureInvalid
from taskhook.core.signature import parse_signature_header, sign, verify_signature

BODY = b'{"id":"e1","timestamp":1726570090233}'
NOW = 1_726_570_090_233
TOLERANCE = 300_000
SECRET = b"whsec-current"
OLD_SECRET = b"whsec-previous"


def hexdigest(body: bytes, secret: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


GOOD = hexdigest(BODY, SECRET)
OTHER = hexdigest(b"something else", SECRET)


@pytest.mark.parametrize(
    ("header", "secrets"),
    [
        pytest.param(f"t={NOW},v1={GOOD}", [SECRET], id="one secret, one signature"),
        pytest.param(f"t={NOW},v1={GOOD.upper()}", [SECRET], id="uppercase hex"),
        pytest.param(f"t={NOW}, v1={GOOD}", [SECRET], id="space after comma"),
        pytest.param(f"v1={GOOD},t={NOW}", [SECRET], id="elements in any order"),
        pytest.param(f"t={NOW},v1={OTHER},v1={GOOD}", [SECRET], id="second of two v1 matches"),
        pytest.param(f"t={NOW},v1={GOOD}", [OLD_SECRET, SECRET], id="second of two secrets"),
        pytest.param(f"t={NOW},v0=abc,v1={GOOD}", [SECRET], id="unknown scheme ignored"),
        pytest.param(f"t={NOW - TOLERANCE},v1={GOOD}", [SECRET], id="oldest tolerated"),
        pytest.param(f"t={NOW + TOLERANCE},v1={GOOD}", [SECRET], id="newest tolerated"),
    ],
)
def test_a_valid_signature_returns_its_timestamp(header: str, secrets: list[bytes]) -> None:
    signed_at = verify_signature(header, BODY, secrets=secrets, now_ms=NOW, tolerance_ms=TOLERANCE)
    assert signed_at == int(header.split("t=")[1].split(",")[0])


@pytest.mark.parametrize(
    ("header", "body", "cause"),
    [
        pytest.param(None, BODY, "signature-missing", id="no header"),
        pytest.param("", BODY, "signature-missing", id="empty header"),
        pytest.param("  ", BODY, "signature-missing", id="blank header"),
        pytest.param(GOOD, BODY, "signature-malformed", id="bare hex"),
        pytest.param(f"v1={GOOD}", BODY, "signature-malformed", id="no t"),
        pytest.param(f"t={NOW}", BODY, "signature-malformed", id="no v1"),
        pytest.param(f"t=abc,v1={GOOD}", BODY, "signature-malformed", id="t not a number"),
        pytest.param(f"t=-5,v1={GOOD}", BODY, "signature-malformed", id="negative t"),
        pytest.param(f"t=\uff11\uff12,v1={GOOD}", BODY, "signature-malformed", id="wide digits"),
        pytest.param(f"t={NOW},t={NOW},v1={GOOD}", BODY, "signature-malformed", id="two t"),
        pytest.param(f"t={NOW},v1={GOOD[:-2]}", BODY, "signature-malformed", id="short hex"),
        pytest.param(f"t={NOW},v1={GOOD[:-1]}g", BODY, "signature-malformed", id="not hex"),
        pytest.param(f"t={NOW},v1", BODY, "signature-malformed", id="element without ="),
        pytest.param(f"t={NOW},v1={OTHER}", BODY, "signature-mismatch", id="wrong body"),
        pytest.param(f"t={NOW},v1={GOOD}", BODY + b" ", "signature-mismatch", id="body changed"),
        pytest.param(
            f"t={NOW},v1={hexdigest(BODY, b'stranger')}", BODY, "signature-mismatch", id="bad key"
        ),
        pytest.param(f"t={NOW - TOLERANCE - 1},v1={GOOD}", BODY, "signature-expired", id="too old"),
        pytest.param(
            f"t={NOW + TOLERANCE + 1},v1={GOOD}", BODY, "signature-expired", id="from the future"
        ),
    ],
)
def test_an_untrustworthy_signature_is_refused_with_its_cause(
    header: str | None, body: bytes, cause: str
) -> None:
    with pytest.raises(SignatureInvalid) as refused:
        verify_signature(header, body, secrets=[SECRET], now_ms=NOW, tolerance_ms=TOLERANCE)
    assert refused.value.cause == cause


def test_the_signature_covers_the_body_only_not_the_timestamp() -> None:
    # Livepeer signs the raw body, unlike Stripe's "t.body": the same body signs the same at any t.
    assert sign(BODY, SECRET, 1).split(",v1=")[1] == sign(BODY, SECRET, 2).split(",v1=")[1]
    assert sign(BODY, SECRET, NOW) == f"t={NOW},v1={GOOD}"


def test_a_parsed_header_keeps_every_v1_lowercased() -> None:
    parsed = parse_signature_header(f"t={NOW},v1={GOOD.upper()},v1={OTHER}")
    assert parsed.timestamp_ms == NOW
    assert parsed.signatures == (GOOD, OTHER)


def test_no_secret_matches_nothing() -> None:
    with pytest.raises(SignatureInvalid) as refused:
        verify_signature(f"t={NOW},v1={GOOD}", BODY, secrets=[], now_ms=NOW, tolerance_ms=1)
    assert refused.value.cause == "signature-mismatch"
