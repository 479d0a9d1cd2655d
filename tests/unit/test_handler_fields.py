"""The handler's field reference (docs/handler-fields.md) is what the models say, names real
attributes of the events handlers receive, and the Consumers page's export example works on
both kinds of export."""

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from taskhook.core.delivery import validate_delivery
from taskhook.core.handler_reference import handler_reference, type_text
from taskhook.core.message import PublishedTaskEvent, event_message
from taskhook.tools.samples import SAMPLE_TYPES
from taskhook.tools.send import sample_life
from taskhook.tools.variations import Variation, varied

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "handler-fields.md"
CUSTOM_EXPORT = [
    Variation.setting(
        'payload.task.snapshot.params.export={"custom": {"url": '
        '"https://user:secret@storage.example.com/out.mp4?sig=abc"}}'
    ),
    Variation.setting('payload.task.snapshot.output={"export": {}}'),
]


def received(task_type: Any, variations: Sequence[Variation] = ()) -> PublishedTaskEvent:
    """A completed task of ``task_type`` as a handler receives it: sent, published, parsed."""
    (document,) = varied(sample_life(task_type, "task.completed", 1), list(variations))
    body = event_message(validate_delivery(document)).body
    return PublishedTaskEvent.model_validate_json(body)


def test_the_page_is_what_the_models_say() -> None:
    assert PAGE.read_text() == handler_reference(), "run `make schema`"


def paths() -> list[str]:
    return re.findall(r"^\| `(event\.[^`]+)` \|", handler_reference(), re.M)


@pytest.mark.parametrize("task_type", SAMPLE_TYPES)
def test_every_field_a_sample_carries_is_reached_by_its_documented_path(task_type: Any) -> None:
    event = received(task_type)
    reached = 0
    for path in paths():
        node: Any = event
        for part in path.split(".")[1:]:
            if node is None:
                break
            name = part.removesuffix("[i]")
            assert hasattr(node, name), f"{path}: {type(node).__name__} has no {name}"
            node = getattr(node, name)
            if part.endswith("[i]"):
                node = node[0] if node else None
        else:
            reached += node is not None
    assert reached > 10  # the sample's fields, each found where the page says


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (int, "int"),
        (int | None, "int | None"),
        (list[str], "list[str]"),
        (dict[str, Any], "dict[str, Any]"),
    ],
)
def test_types_are_written_as_a_reader_writes_them(annotation: Any, text: str) -> None:
    assert type_text(annotation) == text


def example_handler() -> Any:
    page = (ROOT / "docs" / "consumers.md").read_text()
    code = re.search(r"```python\n(# my_exports\.py\n.*?)```", page, re.S)
    assert code is not None, "the Consumers page lost its export example"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "my_exports.py", "exec"), namespace)  # noqa: S102  # our docs
    return namespace["record_export"]


async def test_the_export_example_tells_ipfs_from_a_custom_url_that_arrives_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="my_exports")
    consumer = example_handler()
    async with consumer.open(None) as running:
        await running.handler(received("export"))
        await running.handler(received("export", CUSTOM_EXPORT))
    ipfs, custom = caplog.records
    assert (ipfs.getMessage(), ipfs.cid) == (  # type: ignore[attr-defined]
        "exported to IPFS",
        "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    )
    assert (custom.getMessage(), custom.url) == (  # type: ignore[attr-defined]
        "exported to a URL",
        "https://***:***@storage.example.com/out.mp4?REDACTED",
    )
