"""Transcript fixtures: a bot, customer turns, the model outputs recorded for them, and
what each turn must decide. Parsing and fingerprints are pure; loading reads files.

    format: 1
    bot: ../../bots/shop.yaml          # relative to this file
    provider: scripted                 # optional: what `record` asks (default: the bot's own)
    turns:
      - user: Where is my order?
        model: '{"action": "answer", ...}'   # a string, or a list when a repair happened
        fingerprint: sha256:...              # of the model request(s); set by `record`
        expect: {action: answer, citations: [track-order]}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import check_regex
from ..config.loader import display_path
from ..config.validation import validate_doc
from ..config.yamldoc import YamlDoc, parse_yaml
from ..errors import ConfigError, Problem
from ..providers.base import ModelRequest

__all__ = [
    "FIXTURE_SUFFIX",
    "SCRIPTED",
    "Expect",
    "Fixture",
    "FixtureConfig",
    "RecordedOutput",
    "Turn",
    "canonical_request",
    "find_fixtures",
    "fingerprint",
    "load_fixture",
    "requests_path",
]

FIXTURE_SUFFIX = ".transcript.yaml"
#: `provider: scripted`: the outputs were written by hand; `record` keeps them.
SCRIPTED = "scripted"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordedOutput(_Strict):
    """A model output that did not finish normally (e.g. cut off at the token limit)."""

    text: str
    finish_reason: str = "stop"


class Expect(_Strict):
    action: Literal["answer", "handoff", "clarify"] | None = None
    rule: str | None = Field(None, description="The hand-off rule that must fire.")
    citations: list[str] | None = None
    options: list[str] | None = Field(None, description="With clarify: the ids of the snippets offered, in order.")
    small_talk: str | None = Field(None, description="The kind of small talk answered (greeting, thanks, ...).")
    reply_contains: str | list[str] | None = None
    reply_matches: str | None = Field(None, description="A regular expression the reply must match.")
    max_attempts: int | None = Field(None, ge=0)

    _compiles = field_validator("reply_matches")(check_regex)


class Turn(_Strict):
    user: str
    model: str | RecordedOutput | list[str | RecordedOutput] | None = None
    fingerprint: str | None = None
    expect: Expect = Field(default_factory=Expect)

    def outputs(self) -> list[RecordedOutput]:
        """The recorded outputs, in the order the engine will ask for them."""
        items = [] if self.model is None else self.model if isinstance(self.model, list) else [self.model]
        return [RecordedOutput(text=i) if isinstance(i, str) else i for i in items]


class FixtureConfig(_Strict):
    format: Literal[1]
    bot: str = Field(min_length=1, description="The bot file, relative to this fixture.")
    description: str = ""
    provider: str | None = Field(
        None, description="Provider that `record` asks; 'scripted' keeps hand-written outputs."
    )
    turns: list[Turn] = Field(min_length=1)


@dataclass(frozen=True)
class Fixture:
    path: Path
    config: FixtureConfig
    doc: YamlDoc

    @property
    def source(self) -> str:
        return display_path(self.path)

    @property
    def bot_path(self) -> Path:
        return self.path.parent / self.config.bot

    def turn_position(self, index: int) -> tuple[int, int]:
        return self.doc.where(("turns", index))


def requests_path(fixture_path: Path) -> Path:
    """The sidecar holding the recorded requests, for readable diffs when a turn is stale."""
    return fixture_path.with_name(fixture_path.name.removesuffix(".yaml") + ".requests.json")


def find_fixtures(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(path.rglob(f"*{FIXTURE_SUFFIX}")))
        elif path.exists():
            files.append(path)
        else:
            problems.append(
                Problem(display_path(path), 1, 1, f"no such file or folder (give *{FIXTURE_SUFFIX} files or folders)")
            )
    return files, problems


def load_fixture(path: Path) -> Fixture:
    """Read and check one fixture; raises ConfigError with every problem at its line."""
    source = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(source, 1, 1, f"cannot read the fixture ({exc})")]) from None
    doc = parse_yaml(text, source)
    config, problems = (None, []) if doc.data is None and doc.problems else validate_doc(FixtureConfig, doc, doc.data)
    problems = doc.problems + problems
    bot = doc.data.get("bot") if isinstance(doc.data, dict) else None
    if isinstance(bot, str) and bot and not (path.parent / bot).is_file():
        problems.append(
            doc.problem(("bot",), f"bot file '{bot}' not found (the path is relative to the fixture's folder)")
        )
    if problems or config is None:
        raise ConfigError(problems)
    return Fixture(path, config, doc)


def canonical_request(request: ModelRequest) -> dict[str, Any]:
    """What identifies a model request: the messages and the parameters sent with them."""
    return {
        "messages": [dict(m) for m in request.messages],
        "model": request.model,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "response_format": request.response_format,
        "structured_output": request.structured_output,
    }


def fingerprint(requests: Sequence[ModelRequest]) -> str:
    """A short, stable hash of every model request of one turn."""
    canonical = json.dumps(
        [canonical_request(r) for r in requests], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
