"""Where the sign-in form sends a browser afterwards: a path of the console, never another site."""

import pytest

from taskhook.console.login import local_target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/held", "/held"),
        ("/tasks?q=abc", "/tasks?q=abc"),
        ("//evil.example/x", "/tasks"),
        ("/\\evil.example/x", "/tasks"),
        ("https://evil.example/", "/tasks"),
        ("held", "/tasks"),
        ("", "/tasks"),
        (None, "/tasks"),
    ],
)
def test_after_signing_in_a_browser_goes_only_to_a_page_of_the_console(
    target: object, expected: str
) -> None:
    assert local_target(target) == expected
