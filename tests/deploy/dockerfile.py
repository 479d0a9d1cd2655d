"""Just enough of a Dockerfile parser to read what the image does, and to replay its build."""

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: tuple[str, ...]
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of CMD, ENTRYPOINT or HEALTHCHECK ... CMD."""
        text = self.arguments.removeprefix("CMD").strip()
        command: list[str] = json.loads(text)
        return command

    def flag(self, name: str) -> str | None:
        prefix = f"--{name}="
        return next((f.removeprefix(prefix) for f in self.flags if f.startswith(prefix)), None)


@dataclass
class Stage:
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name!r} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Its ENV values, as written (``$VAR`` references are not expanded)."""
        pairs = [item.partition("=") for i in self.all("ENV") for item in shlex.split(i.arguments)]
        return {key: value for key, _, value in pairs}


def logical_lines(text: str) -> list[str]:
    """One string per instruction: continuations joined, comments dropped (as Docker does)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def parse(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        words = rest.split(" ")
        flag_count = next((n for n, w in enumerate(words) if not w.startswith("--")), len(words))
        flags = tuple(words[:flag_count])
        instruction = Instruction(keyword.upper(), flags, " ".join(words[flag_count:]).strip())
        if instruction.keyword == "FROM":
            stages.append(Stage(instruction.arguments.split(" AS ")[-1].strip()))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse(DOCKERFILE.read_text())}
