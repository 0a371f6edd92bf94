"""Recording fixtures: run the customer turns against a live provider and write back what
the model said and the fingerprint of what it was asked, keeping comments and expectations.

Scripted fixtures (`provider: scripted`) hold outputs written by hand; recording one keeps
its outputs and refreshes only the fingerprints and requests.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from ..bot import Bot
from ..conversation import Conversation
from ..decision import Decision
from ..engine import Engine
from ..errors import ProviderError
from ..providers.base import DeltaCallback, ModelRequest, ModelResponse, Provider
from ..providers.registry import create_provider
from .fixture import (
    FIXTURE_SUFFIX,
    SCRIPTED,
    Expect,
    Fixture,
    RecordedOutput,
    canonical_request,
    fingerprint,
    requests_path,
)
from .replay import ReplayProvider, check_expectations

__all__ = ["RecordResult", "record_fixture", "record_new"]


class _Recorder:
    """Passes calls to a provider and keeps each turn's requests and outputs."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.requests: list[ModelRequest] = []
        self.outputs: list[RecordedOutput] = []

    def start_turn(self) -> None:
        self.requests, self.outputs = [], []

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        self.requests.append(request)
        response = await self.inner.complete(request, on_delta)
        self.outputs.append(RecordedOutput(text=response.text, finish_reason=response.finish_reason or "stop"))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class _TurnRecording:
    user: str
    decision: Decision
    requests: list[ModelRequest]
    outputs: list[RecordedOutput]


@dataclass
class RecordResult:
    path: Path
    turns: list[_TurnRecording] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def _run_turns(
    bot: Bot, provider: Provider, users: Sequence[str], scripted: Sequence[list[RecordedOutput]] | None
) -> list[_TurnRecording]:
    recorder = _Recorder(provider)
    engine = Engine(bot, recorder)
    conversation = Conversation(bot.id)
    turns: list[_TurnRecording] = []
    try:
        for index, user in enumerate(users):
            recorder.start_turn()
            if scripted is not None:
                assert isinstance(provider, ReplayProvider)
                provider.start_turn(scripted[index])
            decision = await engine.turn(conversation, user)
            if scripted is not None and isinstance(provider, ReplayProvider) and provider.unrecorded:
                raise ProviderError(
                    f"turn {index + 1} of a scripted fixture needs one more model output than it has (write it by hand)"
                )
            turns.append(_TurnRecording(user, decision, list(recorder.requests), list(recorder.outputs)))
    finally:
        await engine.aclose()
    return turns


def _live_provider(
    fixture_provider: str | None, override: str | None, bot: Bot, env: Mapping[str, str]
) -> Provider | None:
    """The provider to record with; None means: replay the fixture's own scripted outputs."""
    name = override or fixture_provider
    if name == SCRIPTED:
        return None
    return create_provider(bot, env, name=name)


async def record_fixture(
    fixture: Fixture,
    bot: Bot,
    env: Mapping[str, str],
    *,
    provider: str | None = None,
    update_expectations: bool = False,
) -> RecordResult:
    """Re-run a fixture's turns against a live provider and rewrite it in place."""
    live = _live_provider(fixture.config.provider, provider, bot, env)
    turns = fixture.config.turns
    if live is None:
        result_turns = await _run_turns(bot, ReplayProvider(), [t.user for t in turns], [t.outputs() for t in turns])
    else:
        result_turns = await _run_turns(bot, live, [t.user for t in turns], None)
    result = RecordResult(fixture.path, result_turns)
    secrets = _secrets(bot, env)
    document = _load_roundtrip(fixture.path)
    for index, (recording, turn) in enumerate(zip(result_turns, turns, strict=True)):
        node = document["turns"][index]
        _write_outputs(node, recording, secrets)
        expect = turn.expect
        if update_expectations:
            expect = _expect_from(recording.decision, turn.expect)
            _set_after(node, "expect", _kept_comment(node.get("expect"), _expect_node(expect)), "fingerprint")
        for problem in check_expectations(expect, recording.decision):
            result.warnings.append(f"turn {index + 1}: {problem}")
    _dump(document, fixture.path)
    _write_requests(fixture.path, result_turns, secrets)
    return result


async def record_new(
    bot: Bot, bot_path: Path, users: Sequence[str], out: Path, env: Mapping[str, str], *, provider: str | None = None
) -> RecordResult:
    """A new fixture from a chat session: one customer message per line."""
    if not out.name.endswith(FIXTURE_SUFFIX):
        raise ValueError(f"a fixture file name ends with {FIXTURE_SUFFIX} (got {out.name})")
    if out.exists():
        raise FileExistsError(f"{out} already exists (record into it with: supportbot record {out})")
    live = create_provider(bot, env, name=provider)
    turns = await _run_turns(bot, live, users, None)
    relative = Path(_relpath(bot_path, out.parent))
    document = CommentedMap()
    document["format"] = 1
    document["bot"] = relative.as_posix()
    if provider:
        document["provider"] = provider
    document["turns"] = CommentedSeq()
    secrets = _secrets(bot, env)
    for recording in turns:
        node = CommentedMap()
        node["user"] = _text(recording.user)
        _write_outputs(node, recording, secrets)
        node["expect"] = _expect_node(_expect_from(recording.decision, Expect()))
        document["turns"].append(node)
    out.parent.mkdir(parents=True, exist_ok=True)
    _dump(document, out)
    _write_requests(out, turns, secrets)
    return RecordResult(out, turns)


def _text(text: str) -> str:
    """A customer's message as YAML that reads back as that text. ruamel writes YAML 1.2,
    where "yes" and "no" are plain text; the loader reads YAML 1.1, where they are booleans."""
    try:
        plain = pyyaml.safe_load(text) == text
    except pyyaml.YAMLError:
        plain = False
    return text if plain else SingleQuotedScalarString(text)


def _relpath(target: Path, start: Path) -> str:
    return os.path.relpath(target.resolve(), start.resolve())


def _secrets(bot: Bot, env: Mapping[str, str]) -> list[str]:
    """Values that must never be written to a fixture (API keys)."""
    key = env.get(bot.config.model.api_key_env, "")
    return [key] if len(key) >= 8 else []


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return text


def _output_node(output: RecordedOutput, secrets: Sequence[str]) -> Any:
    text = _redact(output.text, secrets)
    if output.finish_reason == "stop":
        return text
    node = CommentedMap()
    node["text"] = text
    node["finish_reason"] = output.finish_reason
    return node


def _write_outputs(node: CommentedMap, recording: _TurnRecording, secrets: Sequence[str]) -> None:
    outputs = [_output_node(o, secrets) for o in recording.outputs]
    if not outputs:
        node.pop("model", None)
        node.pop("fingerprint", None)
        return
    value: Any = outputs[0] if len(outputs) == 1 else CommentedSeq(outputs)
    _set_after(node, "model", value, "user")
    _set_after(node, "fingerprint", fingerprint(recording.requests), "model")


def _set_after(node: CommentedMap, key: str, value: Any, after: str) -> None:
    if key in node:
        node[key] = value
        return
    keys = list(node.keys())
    position = keys.index(after) + 1 if after in keys else len(keys)
    node.insert(position, key, value)


def _kept_comment(old: Any, new: CommentedMap) -> CommentedMap:
    """`new`, with the comment that followed `old`. ruamel files a comment line between two
    turns under the last key of the turn before, here its `expect`: rewritten bare, the
    next turn's comment would be lost."""
    if not isinstance(old, CommentedMap) or not old or not new:
        return new
    last = list(old)[-1]
    comment = old.ca.items.get(last)
    if comment is not None and len(comment) > 2 and comment[2] is not None:
        new.ca.items[list(new)[-1]] = [None, None, comment[2], None]
    return new


def _expect_from(decision: Decision, previous: Expect) -> Expect:
    """Expectations that say what the decision did; reply checks kept while they still hold."""
    kept = {
        name: getattr(previous, name)
        for name in ("reply_contains", "reply_matches", "max_attempts")
        if getattr(previous, name) is not None
        and not check_expectations(Expect(**{name: getattr(previous, name)}), decision)
    }
    return Expect(
        action=decision.action,
        rule=decision.handoff.rule if decision.handoff else None,
        citations=decision.citations,
        options=[option.id for option in decision.options] or None,
        small_talk=decision.small_talk,
        **kept,
    )


def _expect_node(expect: Expect) -> CommentedMap:
    node = CommentedMap()
    for key, value in expect.model_dump(exclude_none=True).items():
        if isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()
            value = seq
        node[key] = value
    return node


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load_roundtrip(path: Path) -> Any:
    return _yaml().load(path.read_text(encoding="utf-8"))


def _dump(document: Any, path: Path) -> None:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_requests(fixture_path: Path, turns: Sequence[_TurnRecording], secrets: Sequence[str]) -> None:
    data = {
        "note": "Written by `supportbot record`: the model requests of each turn, to show what changed when a turn is stale.",
        "turns": [
            {"turn": i, "fingerprint": fingerprint(t.requests), "requests": [canonical_request(r) for r in t.requests]}
            for i, t in enumerate(turns, 1)
            if t.requests
        ],
    }
    text = _redact(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), secrets)
    requests_path(fixture_path).write_text(text + "\n", encoding="utf-8")
