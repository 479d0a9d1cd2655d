"""Credentials never reach a published body: the rules, by table and by property."""

import copy
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskhook.core.delivery import validate_delivery
from taskhook.core.message import event_message
from taskhook.core.redaction import (
    DEFAULT_REDACTION,
    DEFAULT_URL_PATHS,
    DEFAULT_VALUE_PATHS,
    REDACTED,
    Redaction,
    mask_credentials,
    redact_delivery,
    redact_url,
)
from tests.support.deliveries import load_sample


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bucket.s3.example/up/file.mp4?X-Amz-Signature=abc&X-Amz-Credential=k",
         "https://bucket.s3.example/up/file.mp4?REDACTED"),
        ("s3+https://AKIA:s3cret@storage.example/bucket/out", "s3+https://***:***@storage.example/bucket/out"),
        ("s3+https://***:***@storage.example/bucket", "s3+https://***:***@storage.example/bucket"),
        ("https://cdn.example/in.mp4", "https://cdn.example/in.mp4"),
        ("ipfs://bafy", "ipfs://bafy"),
        ("not a url", "not a url"),
        ("user:pass@host/no-scheme", REDACTED),
    ],
)  # fmt: skip
def test_a_url_keeps_where_it_points_and_loses_its_credentials_and_query(
    url: str, expected: str
) -> None:
    assert redact_url(url) == expected


def export_delivery(url: str, headers: dict[str, str]) -> dict[str, Any]:
    document = load_sample("task.completed.upload.json")
    snapshot = document["payload"]["task"]["snapshot"]
    snapshot["params"]["export"] = {"custom": {"url": url, "method": "PUT", "headers": headers}}
    return document


def published_body(document: dict[str, Any], redaction: Redaction = DEFAULT_REDACTION) -> Any:
    return orjson.loads(event_message(validate_delivery(document), redaction=redaction).body)


def test_an_export_s_presigned_url_and_headers_are_redacted_and_keep_their_shape() -> None:
    document = export_delivery(
        "https://b.example/o?X-Amz-Signature=deadbeef", {"Authorization": "Bearer t0ken"}
    )
    original = copy.deepcopy(document)
    message = event_message(validate_delivery(document))
    custom = orjson.loads(message.body)["task"]["params"]["export"]["custom"]
    assert custom == {
        "url": "https://b.example/o?REDACTED",
        "method": "PUT",
        "headers": {"Authorization": REDACTED},
    }
    assert message.redacted == (
        "task.params.export.custom.url",
        "task.params.export.custom.headers.*",
    )
    assert document == original  # the parsed delivery itself is never changed


def test_a_body_without_credentials_is_published_as_it_came() -> None:
    document = load_sample("task.completed.upload.json")
    message = event_message(validate_delivery(document))
    assert message.redacted == ()
    assert orjson.loads(message.body)["task"] == document["payload"]["task"]["snapshot"]


def test_an_operator_adds_paths_or_turns_redaction_off() -> None:
    document = export_delivery("https://b.example/o?sig=1", {"X-Key": "k"})
    extra = Redaction.configured(extra_paths=["task.userId"])
    assert published_body(document, extra)["task"]["userId"] == REDACTED
    off = published_body(document, Redaction.configured(enabled=False))
    assert off["task"]["params"]["export"]["custom"]["url"] == "https://b.example/o?sig=1"


SECRET = st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=24).map(
    lambda s: f"SECRET{s}"
)


@st.composite
def deliveries_with_secrets(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A valid delivery carrying secrets wherever the default rules say they may be."""
    document = load_sample("task.completed.upload.json")
    snapshot = document["payload"]["task"]["snapshot"]
    secrets: list[str] = []

    def secret() -> str:
        value = draw(SECRET)
        secrets.append(value)
        return value

    def url() -> str:
        user, password, token = secret(), secret(), secret()
        credentials = f"{user}:{password}@" if draw(st.booleans()) else ""
        if not credentials:
            secrets.remove(user)
            secrets.remove(password)
        return f"https://{credentials}host.example/p?sig={token}"

    params = snapshot["params"]
    params["upload"] = {"url": url(), "encryption": {"key": secret()}}
    headers = {draw(st.sampled_from(["Authorization", "X-Api-Key", "Cookie"])): secret()}
    params["export"] = {"custom": {"url": url(), "headers": headers}}
    params["transcode-file"] = {"input": {"url": url()}, "storage": {"url": url()}}
    params["clip"] = {"url": url()}
    params["import"] = {"url": url(), "encryption": {"key": secret()}}
    snapshot["clip"] = {"url": url()}
    snapshot.setdefault("output", {})["transcodeFile"] = {"baseUrl": url()}
    return document, secrets


@given(deliveries_with_secrets())
def test_no_secret_at_a_redacted_path_ever_reaches_a_published_body(
    case: tuple[dict[str, Any], list[str]],
) -> None:
    document, secrets = case
    body = event_message(validate_delivery(document)).body.decode()
    assert [secret for secret in secrets if secret in body] == []


def test_the_default_paths_are_the_documented_ones() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "publishing.md").read_text()
    for path in DEFAULT_URL_PATHS + DEFAULT_VALUE_PATHS:
        assert f"`{path}`" in page, f"docs/publishing.md does not list {path}"


EXTRA_PATH = st.lists(
    st.sampled_from(["task", "params", "*", "upload", "url", "token", "headers", "custom"]),
    min_size=1,
    max_size=5,
).map(".".join)


@given(deliveries_with_secrets(), st.lists(EXTRA_PATH, max_size=4))
def test_paths_an_operator_adds_never_undo_the_default_redaction(
    case: tuple[dict[str, Any], list[str]], extra: list[str]
) -> None:
    document, secrets = case
    redaction = Redaction.configured(extra_paths=extra)
    body = event_message(validate_delivery(document), redaction=redaction).body.decode()
    assert [secret for secret in secrets if secret in body] == []


def in_snapshot(params: dict[str, Any]) -> dict[str, Any]:
    """A delivery as Livepeer sends it, its task snapshot holding ``params``."""
    return {"id": "e-1", "payload": {"task": {"id": "t-1", "snapshot": {"params": params}}}}


HEADERS = {"export": {"custom": {"headers": {"Authorization": "Bearer k"}}}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # A rule's path, where a delivery carries the task: a value rule replaces every string.
        (in_snapshot(HEADERS),
         in_snapshot({"export": {"custom": {"headers": {"Authorization": REDACTED}}}})),
        (in_snapshot({"upload": {"url": "https://h/p?s=1"}}),
         in_snapshot({"upload": {"url": "https://h/p?REDACTED"}})),
        # A URL where no rule looks (the delivery was refused: its shape may be anything).
        ({"payload": {"stray": ["https://u:p@host/x?sig=1", "plain"]}},
         {"payload": {"stray": ["https://***:***@host/x?REDACTED", "plain"]}}),
        # Nothing secret: unchanged.
        (in_snapshot({"upload": {"url": "https://h/p"}}), in_snapshot({"upload": {"url": "https://h/p"}})),
        # Not an object at all (refused as such): URLs in it still lose their credentials.
        (["https://u:p@host/"], ["https://***:***@host/"]),
    ],
)  # fmt: skip
def test_a_refused_delivery_is_shown_without_the_credentials_it_may_carry(
    document: Any, expected: Any
) -> None:
    assert redact_delivery(document) == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "cannot reach postgresql+asyncpg://app:pa55@db:5432/x",
            "cannot reach postgresql+asyncpg://***:***@db:5432/x",
        ),
        ("https://token@host/path", "https://***:***@host/path"),
        ("amqp://g:g@a/ then https://u:p@b/c", "amqp://***:***@a/ then https://***:***@b/c"),
        ("mail me at ops@example.com", "mail me at ops@example.com"),
        ("https://host/path?user=a@b", "https://host/path?user=a@b"),
        ("no url at all", "no url at all"),
    ],
)
def test_credentials_of_urls_quoted_in_text_are_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked
