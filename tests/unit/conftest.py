"""Unit tests run the same whatever the shell that starts them has exported."""

from tests.support.environment import without_taskhook_environment

__all__ = ["without_taskhook_environment"]
