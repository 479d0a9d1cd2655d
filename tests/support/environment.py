"""Tests that build settings see only what they set, whatever the shell exported."""

import os

import pytest


@pytest.fixture(autouse=True)
def without_taskhook_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every ``TASKHOOK_*`` variable for the length of the test."""
    for name in os.environ:
        if name.startswith("TASKHOOK_"):
            monkeypatch.delenv(name)
