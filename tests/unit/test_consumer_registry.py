"""Finding a consumer by its registered name or its import path."""

import pytest

from taskhook.consumers import registry
from taskhook.tasks.consumer import tasks


def test_the_tasks_consumer_is_registered_by_name_with_its_bindings() -> None:
    assert registry.registered()["tasks"] is tasks
    assert registry.find("tasks").bindings == ("task.#", "asset.#")


def test_a_consumer_can_be_named_by_its_import_path() -> None:
    assert registry.find("taskhook.tasks.consumer:tasks") is tasks


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("nope", "no consumer named 'nope' (registered: tasks"),
        ("no.such.module:x", "cannot import 'no.such.module'"),
        ("taskhook.tasks.consumer:missing", "has no attribute 'missing'"),
        ("taskhook.tasks.consumer:log", "is a Logger, not a Consumer"),
    ],
)
def test_an_unknown_consumer_is_refused_with_what_went_wrong(reference: str, says: str) -> None:
    with pytest.raises(registry.ConsumerNotFound, match=None) as raised:
        registry.find(reference)
    assert says in str(raised.value)
