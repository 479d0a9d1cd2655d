"""AMQP topic patterns, as RabbitMQ matches them: ``*`` one word, ``#`` zero or more words."""

from functools import cache


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic exchange would route ``routing_key`` through a binding of ``pattern``."""
    return _matches(tuple(pattern.split(".")), tuple(routing_key.split(".")))


def check_pattern(pattern: str) -> None:
    """Raise ``ValueError`` unless ``pattern`` is a topic pattern (dot-separated, no empty word)."""
    if not pattern or any(not word for word in pattern.split(".")):
        raise ValueError(f"{pattern!r} is not a routing pattern like task.completed.# or task.*.*")


@cache
def _matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_matches(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _matches(rest, words[1:])
