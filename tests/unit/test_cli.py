"""The ``taskhook`` command's grammar as a person meets it: --version, help on every command and
option, the options' own checks, and ``schema`` printing rather than writing into the package."""

import argparse
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from taskhook.cli import main, parser
from taskhook.cli.options import http_url
from taskhook.cli.serve import ASYNCAPI_PATH, SCHEMA_PATH


def commands(
    command: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


EVERY_COMMAND = list(commands(parser()))


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"taskhook {version('taskhook')}\n"


@pytest.mark.parametrize(
    ("path", "command"),
    EVERY_COMMAND,
    ids=[" ".join(path) or "taskhook" for path, _ in EVERY_COMMAND],
)
def test_every_command_describes_itself_and_each_option(
    path: tuple[str, ...], command: argparse.ArgumentParser
) -> None:
    assert command.description, f"taskhook {' '.join(path)} --help has no description"
    undescribed = [
        action.dest
        for action in command._actions
        if action.help is None and not isinstance(action, argparse._SubParsersAction)
    ]
    assert undescribed == []


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in EVERY_COMMAND}
    assert {"serve", "send", "tail", "tasks list", "retire"} <= names


@pytest.mark.parametrize(
    "text", ["http://127.0.0.1:8080/webhooks/livepeer", "https://hooks.example/livepeer"]
)
def test_an_http_url_is_taken(text: str) -> None:
    assert http_url(text) == text


@pytest.mark.parametrize("text", ["notaurl", "127.0.0.1:8080", "ftp://host/x", "http://", ""])
def test_anything_else_is_refused_as_an_option(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not an http:// or https:// URL"):
        http_url(text)


def test_send_refuses_a_url_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["send", "--url", "notaurl"])
    assert exited.value.code == 2
    said = capsys.readouterr().err.splitlines()
    assert said[-1] == (
        "taskhook send: error: argument --url: 'notaurl' is not an http:// or https:// URL"
    )


def test_schema_prints_the_packaged_schema_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = SCHEMA_PATH.stat().st_mtime_ns
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_PATH.read_text()
    assert SCHEMA_PATH.stat().st_mtime_ns == before


def test_schema_writes_where_asked_and_checks_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "event.schema.json"
    assert main(["schema", "--output", str(target)]) == 0
    assert target.read_text() == SCHEMA_PATH.read_text()
    assert main(["schema", "--check", "--output", str(target)]) == 0

    target.write_text("{}\n")
    assert main(["schema", "--check", "--output", str(target)]) == 1
    assert capsys.readouterr().err.endswith(f"{target} is out of date: run `make schema`\n")


def test_schema_asyncapi_prints_the_committed_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--asyncapi"]) == 0
    assert capsys.readouterr().out == ASYNCAPI_PATH.read_text()
    assert main(["schema", "--asyncapi", "--check"]) == 0


def test_schema_asyncapi_writes_where_asked_and_checks_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "asyncapi.json"
    assert main(["schema", "--asyncapi", "--output", str(target)]) == 0
    assert target.read_text() == ASYNCAPI_PATH.read_text()
    # The body's schema is not the document: checking one against the other fails.
    assert main(["schema", "--check", "--output", str(target)]) == 1
    assert main(["schema", "--asyncapi", "--check", "--output", str(target)]) == 0

    target.write_text(target.read_text().replace("taskhook events", "old title"))
    assert main(["schema", "--asyncapi", "--check", "--output", str(target)]) == 1
    assert capsys.readouterr().err.endswith(f"{target} is out of date: run `make schema`\n")
