"""``taskhook send --set/--unset``: a made-up or filed delivery varied before it is signed."""

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from taskhook import cli
from taskhook.core.delivery import validate_delivery
from taskhook.tools.send import sample_life
from taskhook.tools.variations import Variation, varied

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = {"a": {"b": 1, "list": [{"c": "x"}, {"c": "y"}]}, "top": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b=null", {"a": {"b": None, "list": [{"c": "x"}, {"c": "y"}]}, "top": True}),
        ("a.b=42", {"a": {"b": 42, "list": [{"c": "x"}, {"c": "y"}]}, "top": True}),
        (
            "a.b=plain text",
            {"a": {"b": "plain text", "list": [{"c": "x"}, {"c": "y"}]}, "top": True},
        ),
        ('a.b="42"', {"a": {"b": "42", "list": [{"c": "x"}, {"c": "y"}]}, "top": True}),
        ("a.b=", {"a": {"b": "", "list": [{"c": "x"}, {"c": "y"}]}, "top": True}),
        (
            'a.new={"k": [1]}',
            {"a": {"b": 1, "list": [{"c": "x"}, {"c": "y"}], "new": {"k": [1]}}, "top": True},
        ),
        ("a.list.1.c=z", {"a": {"b": 1, "list": [{"c": "x"}, {"c": "z"}]}, "top": True}),
        ("a.list.0=false", {"a": {"b": 1, "list": [False, {"c": "y"}]}, "top": True}),
        ("top=a=b", {"a": {"b": 1, "list": [{"c": "x"}, {"c": "y"}]}, "top": "a=b"}),
    ],
)
def test_a_setting_changes_one_field_and_reads_its_value_as_json_when_it_is(
    text: str, expected: dict[str, Any]
) -> None:
    (changed,) = varied([DOCUMENT], [Variation.setting(text)])
    assert changed == expected
    assert DOCUMENT["a"]["b"] == 1  # type: ignore[index]  # the original is untouched


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("top", {"a": {"b": 1, "list": [{"c": "x"}, {"c": "y"}]}}),
        ("a.list.0", {"a": {"b": 1, "list": [{"c": "y"}]}, "top": True}),
        ("a.absent", DOCUMENT),  # already absent: a spawned delivery has no payload.success
    ],
)
def test_a_removal_drops_one_field(path: str, expected: dict[str, Any]) -> None:
    (changed,) = varied([DOCUMENT], [Variation.removal(path)])
    assert changed == expected


@pytest.mark.parametrize(
    ("variation", "message"),
    [
        (lambda: Variation.setting("a.b"), "'a.b' is not PATH=VALUE"),
        (lambda: Variation.setting("a..b=1"), "is not a path"),
        (lambda: Variation.setting("=1"), "is not a path"),
        (lambda: Variation.setting("nope.b=1"), "the delivery has no nope"),
        (lambda: Variation.setting("a.list.9.c=1"), "the delivery has no a.list.9"),
        (lambda: Variation.setting("a.list.c.d=1"), "'c' is not a list position"),
        (lambda: Variation.setting("top.x=1"), "top is a bool, not an object"),
        (lambda: Variation.setting("a.b.x=1"), "a.b is a int, not an object"),
        (lambda: Variation.removal("nope.b"), "the delivery has no nope"),
    ],
)
def test_a_path_the_delivery_lacks_is_refused_naming_it(variation: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        list(varied([DOCUMENT], [variation()]))


def documented_sends() -> list[list[str]]:
    """The `taskhook send` commands with --set or --unset on the operations page."""
    page = (ROOT / "docs" / "operations.md").read_text()
    lines = re.findall(r"^\.venv/bin/taskhook (send .*--(?:un)?set .*)$", page, re.M)
    return [shlex.split(line) for line in lines]


def test_the_operations_page_shows_variations() -> None:
    assert len(documented_sends()) >= 3


@pytest.mark.parametrize("argv", documented_sends(), ids=lambda argv: " ".join(argv[1:4]))
def test_each_documented_variation_makes_a_delivery_taskhook_accepts(argv: list[str]) -> None:
    args = cli.parser().parse_args(argv)
    variations = [Variation.setting(t) for t in args.set] + [
        Variation.removal(p) for p in args.unset
    ]
    (document,) = varied(sample_life(args.type, args.event, args.count), variations)
    delivery = validate_delivery(document)  # raises if the ingest would refuse it
    assert delivery.envelope.id == document["id"]
