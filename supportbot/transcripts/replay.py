"""Replaying fixtures through the real engine, with a provider that serves recorded outputs.

A turn fails, in this order of checks, when the engine calls the model where no output
was recorded; when the model request differs from the recorded one (stale: the prompt,
the bot or its knowledge changed); when recorded outputs are left unused; or when an
expectation does not hold. A fixture stops at its first failing turn: later turns would
run on a history that is already wrong.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bot import Bot
from ..config.loader import load_bot
from ..conversation import Conversation
from ..decision import Decision, Usage
from ..engine import Engine
from ..errors import ConfigError, MessageRejected, ModelUnavailable
from ..providers.base import DeltaCallback, ModelRequest, ModelResponse
from .fixture import Expect, Fixture, RecordedOutput, canonical_request, fingerprint, requests_path

__all__ = ["FixtureResult", "ReplayProvider", "TurnFailure", "check_expectations", "replay_fixture"]

NOT_RECORDED = "model call not recorded"


class ReplayProvider:
    """Serves one turn's recorded outputs in order and remembers what the engine asked."""

    def __init__(self) -> None:
        self.outputs: list[RecordedOutput] = []
        self.requests: list[ModelRequest] = []
        self.unrecorded = False

    def start_turn(self, outputs: Sequence[RecordedOutput]) -> None:
        self.outputs = list(outputs)
        self.requests = []
        self.unrecorded = False

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        self.requests.append(request)
        if not self.outputs:
            self.unrecorded = True
            raise ModelUnavailable(NOT_RECORDED)
        output = self.outputs.pop(0)
        return ModelResponse(output.text, output.finish_reason, Usage(), request.model)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class TurnFailure:
    turn: int  # 1-based
    kind: str  # "stale", "not_recorded", "unused", "expectation", "refused"
    message: str
    detail: str = ""


@dataclass
class FixtureResult:
    path: str
    bot_id: str
    turns: int
    failure: TurnFailure | None = None
    decisions: list[Decision] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        failure = None
        if self.failure:
            failure = {
                "turn": self.failure.turn,
                "kind": self.failure.kind,
                "message": self.failure.message,
                "detail": self.failure.detail,
            }
        return {
            "fixture": self.path,
            "bot": self.bot_id,
            "passed": self.passed,
            "turns": self.turns,
            "failure": failure,
            "seconds": round(self.seconds, 4),
        }


def check_expectations(expect: Expect, decision: Decision) -> list[str]:
    """Each expectation that does not hold, saying what was expected and what happened."""
    problems: list[str] = []
    rule = decision.handoff.rule if decision.handoff else None
    if expect.action is not None and expect.action != decision.action:
        problems.append(
            f"expected action '{expect.action}', got '{decision.action}'" + (f" (rule {rule})" if rule else "")
        )
    if expect.rule is not None and expect.rule != rule:
        problems.append(f"expected rule '{expect.rule}', got {repr(rule) if rule else 'no hand-off'}")
    if expect.citations is not None and sorted(expect.citations) != sorted(decision.citations):
        problems.append(f"expected citations {expect.citations}, got {decision.citations}")
    offered = [option.id for option in decision.options]
    if expect.options is not None and expect.options != offered:
        problems.append(f"expected options {expect.options}, got {offered}")
    if expect.small_talk is not None and expect.small_talk != decision.small_talk:
        problems.append(f"expected small talk {expect.small_talk!r}, got {decision.small_talk!r}")
    wanted = [expect.reply_contains] if isinstance(expect.reply_contains, str) else expect.reply_contains or []
    for text in wanted:
        if text not in decision.reply:
            problems.append(f"expected the reply to contain {text!r}, got {decision.reply!r}")
    if expect.reply_matches is not None and not re.search(expect.reply_matches, decision.reply):
        problems.append(f"expected the reply to match /{expect.reply_matches}/, got {decision.reply!r}")
    if expect.max_attempts is not None and decision.attempts > expect.max_attempts:
        problems.append(f"expected at most {expect.max_attempts} model attempts, got {decision.attempts}")
    return problems


def _render(requests: Sequence[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for number, request in enumerate(requests, 1):
        params = {k: v for k, v in request.items() if k != "messages"}
        lines.append(f"## request {number} {json.dumps(params, sort_keys=True)}")
        for message in request.get("messages", []):
            lines.append(f"--- {message.get('role')}")
            lines.extend(str(message.get("content", "")).splitlines())
    return lines


def stale_diff(recorded: Sequence[dict[str, Any]] | None, current: Sequence[ModelRequest]) -> str:
    """A unified diff of the recorded and current message arrays of one turn."""
    now = _render([canonical_request(r) for r in current])
    if recorded is None:
        return "(no recorded requests to compare with; the current request is:)\n" + "\n".join(now)
    diff = difflib.unified_diff(_render(recorded), now, "recorded", "current", n=2, lineterm="")
    return "\n".join(diff)


def _recorded_requests(fixture: Fixture) -> dict[str, list[dict[str, Any]]]:
    path = requests_path(fixture.path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(t.get("fingerprint")): t.get("requests", []) for t in data.get("turns", []) if isinstance(t, dict)}


def _turn_failure(
    number: int, turn_fp: str | None, provider: ReplayProvider, recorded: dict[str, list[dict[str, Any]]], rerecord: str
) -> TurnFailure | None:
    if provider.unrecorded:
        calls = len(provider.requests)
        return TurnFailure(
            number,
            "not_recorded",
            f"{NOT_RECORDED} (the engine made {calls} model call(s), {calls - 1} recorded)",
            rerecord,
        )
    if provider.requests:
        current = fingerprint(provider.requests)
        if current != turn_fp:
            detail = stale_diff(recorded.get(turn_fp or ""), provider.requests) + "\n" + rerecord
            why = (
                "no fingerprint recorded"
                if turn_fp is None
                else f"request {current} differs from the recorded {turn_fp}"
            )
            return TurnFailure(
                number, "stale", f"stale: the model request changed since it was recorded ({why})", detail
            )
    if provider.outputs:
        used = len(provider.requests)
        return TurnFailure(
            number,
            "unused",
            f"{len(provider.outputs)} recorded output(s) left unused (the engine made {used} model call(s))",
            rerecord,
        )
    return None


async def replay_fixture(fixture: Fixture, bot: Bot | None = None) -> FixtureResult:
    """Run a fixture through the real engine with its recorded outputs."""
    started = time.perf_counter()
    bot = bot or load_bot(fixture.bot_path)
    provider = ReplayProvider()
    engine = Engine(bot, provider)
    conversation = Conversation(bot.id)
    result = FixtureResult(fixture.source, bot.id, len(fixture.config.turns))
    recorded = _recorded_requests(fixture)
    rerecord = f"re-record with: supportbot record {fixture.source}"
    for number, turn in enumerate(fixture.config.turns, 1):
        provider.start_turn(turn.outputs())
        try:
            decision = await engine.turn(conversation, turn.user)
        except MessageRejected as exc:
            result.failure = TurnFailure(number, "refused", f"the message was refused: {exc}")
            break
        result.decisions.append(decision)
        result.failure = _turn_failure(number, turn.fingerprint, provider, recorded, rerecord)
        if result.failure is None:
            problems = check_expectations(turn.expect, decision)
            if problems:
                result.failure = TurnFailure(number, "expectation", "; ".join(problems))
        if result.failure:
            break
    result.seconds = time.perf_counter() - started
    return result


class BotCache:
    """Bots loaded once per run, however many fixtures share them."""

    def __init__(self) -> None:
        self._bots: dict[Path, Bot | ConfigError] = {}

    def get(self, path: Path) -> Bot:
        key = path.resolve()
        if key not in self._bots:
            try:
                self._bots[key] = load_bot(path)
            except ConfigError as exc:
                self._bots[key] = exc
        found = self._bots[key]
        if isinstance(found, ConfigError):
            raise found
        return found
