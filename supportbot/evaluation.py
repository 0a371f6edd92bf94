"""`supportbot eval`: run labelled customer messages through the real engine and measure.

A dataset is JSON Lines: {"text", "expect": <snippet id> | "handoff", "kind"?} where kind is
in-scope, id-oos (in the domain, not covered) or ood-oos (unrelated). Each line runs as a
fresh one-turn conversation. Reading and scoring are pure; running is the engine's.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import textnorm
from .bot import Bot
from .config.loader import display_path
from .conversation import Conversation
from .decision import Decision
from .engine import Engine
from .errors import ConfigError, MessageRejected, Problem
from .providers.offline import offline_reply
from .retrieval import retriever_for
from .smalltalk import split_small_talk

__all__ = ["Example", "Outcome", "calibrate", "load_dataset", "misses", "run_eval", "summarize"]

HANDOFF = "handoff"


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    expect: str
    kind: str


@dataclass(frozen=True)
class Outcome:
    example: Example
    decision: Decision
    offered: tuple[str, ...]  # snippet ids put in the prompt

    @property
    def correct(self) -> bool:
        return _correct(self.example.expect, self.decision.action, self.decision.citations)

    @property
    def clarified_right(self) -> bool:
        """A clarification that offered the expected snippet: the customer's pick answers."""
        offered = [option.id for option in self.decision.options]
        return self.decision.action == "clarify" and self.example.expect in offered


def _correct(expect: str, action: str, citations: Sequence[str]) -> bool:
    """A hand-off where one is expected; else an answer citing the expected snippet."""
    if expect == HANDOFF:
        return action == "handoff"
    return action == "answer" and expect in citations


def load_dataset(path: Path, snippet_ids: Iterable[str]) -> list[Example]:
    """Read a dataset; every malformed line or unknown snippet id is a Problem with its line."""
    known = set(snippet_ids)
    source = display_path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(source, 1, 1, f"cannot read the dataset ({exc})")]) from None
    examples: list[Example] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, 1):
        found = _example(line, number, known, source) if line.strip() else None
        if isinstance(found, Example):
            examples.append(found)
        elif found is not None:
            problems.append(found)
    if problems:
        raise ConfigError(problems)
    if not examples:
        raise ConfigError([Problem(source, 1, 1, "the dataset has no lines")])
    return examples


def _example(line: str, number: int, known: set[str], source: str) -> Example | Problem:
    """One line of a dataset, or what is wrong with it."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return Problem(source, number, exc.colno, f"not JSON ({exc.msg}); each line is one object")
    text, expect = (row.get("text"), row.get("expect")) if isinstance(row, dict) else (None, None)
    if not isinstance(text, str) or not text.strip() or not isinstance(expect, str):
        shape = '{"text": ..., "expect": <snippet id> | "handoff"}'
        return Problem(source, number, 1, f'a line needs "text" and "expect" strings ({shape})')
    if expect != HANDOFF and expect not in known:
        close = sorted(known, key=lambda k: -_overlap(k, expect))[:1]
        hint = f"; did you mean '{close[0]}'?" if close and _overlap(close[0], expect) > 0.5 else ""
        return Problem(
            source, number, 1, f"unknown snippet id '{expect}' (use a snippet id of the bot, or \"handoff\"{hint})"
        )
    kind = row.get("kind") or ("in-scope" if expect != HANDOFF else "oos")
    return Example(number, text, expect, str(kind))


def _overlap(a: str, b: str) -> float:
    shared = len(set(a) & set(b))
    return shared / max(len(set(a) | set(b)), 1)


async def run_eval(
    engine: Engine, examples: Sequence[Example], progress: Callable[[int], None] | None = None
) -> list[Outcome]:
    """Each example as a fresh one-turn conversation. The snippets `offered` are those
    retrieval ranks for the prompt, whether or not the gate let a provider see them."""
    top_k = engine.bot.config.knowledge.top_k
    outcomes = []
    for example in examples:
        try:
            decision = await engine.turn(Conversation(engine.bot.id), example.text)
        except MessageRejected as exc:
            decision = Decision(conversation_id="-", action="handoff", reply=str(exc))
        question = split_small_talk(textnorm.clean(example.text)).question
        offered = tuple(c.snippet.id for c in engine.retriever.search(question, top_k))
        outcomes.append(Outcome(example, decision, offered))
        if progress:
            progress(1)
    return outcomes


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Every figure of an eval run, as plain data."""
    in_scope = [o for o in outcomes if o.example.expect != HANDOFF]
    oos = [o for o in outcomes if o.example.expect == HANDOFF]
    handed = [o for o in outcomes if o.decision.action == "handoff"]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in oos:
        by_kind[outcome.example.kind].append(outcome)
    latencies = sorted(o.decision.latency_ms for o in outcomes)
    return {
        "examples": len(outcomes),
        "in_scope_accuracy": _rate(sum(o.correct for o in in_scope), len(in_scope)),
        "in_scope_clarified_right": _rate(sum(o.clarified_right for o in in_scope), len(in_scope)),
        "clarified": {
            kind: _rate(sum(o.decision.action == "clarify" for o in rows), len(rows))
            for kind, rows in sorted(_by_kind(outcomes).items())
        },
        "handoff_recall": {
            kind: _rate(sum(o.correct for o in rows), len(rows)) for kind, rows in sorted(by_kind.items())
        },
        "handoff_precision": _rate(sum(o.example.expect == HANDOFF for o in handed), len(handed)),
        "answered_wrongly": sum(1 for o in outcomes if o.decision.action == "answer" and not o.correct),
        "retrieval_recall_at_k": _rate(sum(o.example.expect in o.offered for o in in_scope), len(in_scope)),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 3),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        },
        "tokens": _tokens(outcomes),
        "response_cache_hits": sum(o.decision.cached for o in outcomes),
        "worst_snippets": _worst(in_scope),
    }


def _tokens(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Model tokens of the run; `cached_share`: of the prompt tokens, those served from the
    server's prompt cache (the stable head of the prompt, prompt.py)."""
    prompt = sum(o.decision.usage.prompt_tokens for o in outcomes)
    cached = sum(o.decision.usage.cached_tokens for o in outcomes)
    return {
        "prompt": prompt,
        "completion": sum(o.decision.usage.completion_tokens for o in outcomes),
        "cached": cached,
        "cached_share": _rate(cached, prompt),
    }


def _by_kind(outcomes: Sequence[Outcome]) -> dict[str, list[Outcome]]:
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        kinds["in-scope" if outcome.example.expect != HANDOFF else outcome.example.kind].append(outcome)
    return kinds


def _worst(in_scope: Sequence[Outcome], count: int = 5) -> list[dict[str, Any]]:
    rows: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in in_scope:
        rows[outcome.example.expect].append(outcome)
    scored: list[dict[str, Any]] = []
    for snippet, outcomes in rows.items():
        accuracy = sum(o.correct for o in outcomes) / len(outcomes)
        wrong = Counter(
            ("handoff" if o.decision.action == "handoff" else ",".join(o.decision.citations) or "(no citation)")
            for o in outcomes
            if not o.correct
        )
        scored.append(
            {
                "snippet": snippet,
                "accuracy": round(accuracy, 3),
                "examples": len(outcomes),
                "most_often_instead": wrong.most_common(2),
            }
        )
    return sorted(scored, key=lambda s: (s["accuracy"], -s["examples"]))[:count]


# Worst first: a wrong answer misleads the customer, a needless hand-off only costs a person's time.
_MISS_ORDER = ("answered wrongly", "handed off", "asked without it", "asked instead of handing off")


def misses(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Every message the bot did not handle as labelled (a clarification that offered the
    right snippet counts as handled), worst first, then in dataset order: what an author
    reads to see which questions to add as examples and which answers to fix."""
    found = []
    for outcome in outcomes:
        miss = _miss(outcome)
        if miss:
            example = outcome.example
            found.append(
                {
                    "line": example.line,
                    "text": example.text,
                    "expect": example.expect,
                    "kind": example.kind,
                    "miss": miss,
                    "did": _did(outcome.decision),
                }
            )
    return sorted(found, key=lambda m: (_MISS_ORDER.index(m["miss"]), m["line"]))


def _miss(outcome: Outcome) -> str | None:
    action = outcome.decision.action
    if outcome.correct or outcome.clarified_right:
        return None
    if action == "answer":
        return "answered wrongly"
    if action == "clarify":
        return "asked without it" if outcome.example.expect != HANDOFF else "asked instead of handing off"
    return "handed off"


def _did(decision: Decision) -> str:
    """What the bot did, in a few words."""
    if decision.action == "clarify":
        return "asked: " + ", ".join(option.id for option in decision.options)
    if decision.action == "handoff":
        return f"handed off ({decision.handoff.rule})" if decision.handoff else "handed off"
    if decision.small_talk:
        return f"small talk ({decision.small_talk})"
    return "answered " + (", ".join(decision.citations) or "without a source")


def calibrate(bot: Bot, examples: Sequence[Example], steps: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """The offline provider's figures for each candidate `offline.min_score`, computed from
    one retrieval pass per example (the provider's decision is pure in its thresholds)."""
    top_k = bot.config.knowledge.top_k
    retriever = retriever_for(bot)
    scored = []
    for example in examples:
        candidates = tuple(retriever.search(example.text, top_k))
        scored.append((example, candidates, retriever.handoff_match(example.text)))
    table = []
    for min_score in steps or [round(0.2 + 0.025 * i, 3) for i in range(29)]:
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for example, candidates, handoff_match in scored:
            reply = offline_reply(candidates, min_score, bot.config.escalation.confidence_threshold, handoff_match)
            kind = "in-scope" if example.expect != HANDOFF else example.kind
            hits[kind] += _correct(example.expect, reply.action, reply.citations)
            totals[kind] += 1
        row = {"min_score": min_score, **{kind: round(hits[kind] / totals[kind], 4) for kind in sorted(totals)}}
        row["lowest"] = min(v for k, v in row.items() if k != "min_score")
        table.append(row)
    return table
