"""`supportbot report`: what the bots did, per bot and per day, from the store. Pure: the
figures are computed from stored conversations; reading them and printing are the CLI's.

Definitions (the README lists them too):
- conversations: started in the window, by the day they started;
- contained: conversations in which no turn handed off;
- turns: customer messages with a decision, by the day they were written;
- handoffs: turns that handed the conversation to a person (messages written while a person
  had it, `already_handed_off`, are turns but not new hand-offs);
- unanswered: hand-offs for want of an answer (turns.NO_ANSWER_RULES), not a bot rule;
- clarifications picked: the customer's next message was answered with an offered snippet (the
  same question asked again after a number no option had counts once);
- feedback: ratings of the bot's replies to that day's turns;
- did not help: per snippet, answers citing it that the customer's next message said missed
  (`not_helped`) or that were rated down: the answers to rewrite first.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store import ConversationActivity
from .prices import Price, cost
from .turns import Turn, handed_off, turns_of

__all__ = ["BotFacts", "build_report"]

_CITED = 5  # snippets listed as most and least cited


@dataclass(frozen=True)
class BotFacts:
    """What the report knows of a bot from its file (when the file was found)."""

    model: str | None = None  # None: no model is called (the offline provider)
    snippets: Mapping[str, str] = field(default_factory=dict)  # id -> title


def build_report(
    conversations: Sequence[ConversationActivity],
    since: str | None,
    until: str,
    bots: Mapping[str, BotFacts],
    prices: Mapping[str, Price],
) -> dict[str, Any]:
    """The report as plain data: per bot, the totals, one row per day, hand-offs by rule,
    and the most and least cited snippets."""
    by_bot: dict[str, list[ConversationActivity]] = defaultdict(list)
    for activity in conversations:
        by_bot[activity.row.bot_id].append(activity)
    return {
        "since": since,
        "until": until,
        "bots": [
            _bot_report(bot_id, by_bot[bot_id], since, bots.get(bot_id, BotFacts()), prices)
            for bot_id in sorted(by_bot)
        ],
    }


def _bot_report(
    bot_id: str,
    conversations: list[ConversationActivity],
    since: str | None,
    facts: BotFacts,
    prices: Mapping[str, Price],
) -> dict[str, Any]:
    turns = [t for t in turns_of(conversations) if since is None or t.at >= since]
    started = [c for c in conversations if since is None or c.row.created_at >= since]
    price = prices.get(facts.model) if facts.model else Price(0, 0, 0)
    days: dict[str, tuple[list[ConversationActivity], list[Turn]]] = defaultdict(lambda: ([], []))
    for activity in started:
        days[activity.row.created_at[:10]][0].append(activity)
    for turn in turns:
        days[turn.day][1].append(turn)
    answers = Counter(c for t in turns if t.action == "answer" for c in t.citations)  # per snippet
    report = {
        "bot": bot_id,
        "model": facts.model,
        "price_known": price is not None,
        "totals": _figures(started, turns, price),
        "days": [{"day": day, **_figures(*days[day], price)} for day in sorted(days)],
        "handoffs": _handoffs(turns),
        **_cited(answers, facts.snippets),
        "did_not_help": _did_not_help(turns, answers, facts.snippets),
    }
    return report


def _figures(
    conversations: Sequence[ConversationActivity], turns: Sequence[Turn], price: Price | None
) -> dict[str, Any]:
    contained = sum(not handed_off(c) for c in conversations)
    latencies = sorted(float(t.decision.get("latency_ms") or 0.0) for t in turns)
    usage = Counter[str]()
    for turn in turns:
        for kind in ("prompt_tokens", "completion_tokens", "cached_tokens"):
            usage[kind] += int((turn.decision.get("usage") or {}).get(kind) or 0)
    ratings = Counter(t.rating.rating for t in turns if t.rating)
    clarified = [t for t in turns if t.action == "clarify" and not t.asked_again]
    return {
        "conversations": len(conversations),
        "contained": contained,
        "containment": _share(contained, len(conversations)),
        "turns": len(turns),
        "handoffs": sum(t.new_handoff for t in turns),
        "unanswered": sum(t.unanswered for t in turns),
        "clarifications_offered": len(clarified),
        "clarifications_picked": sum(t.picked for t in clarified),
        "small_talk": sum(t.small_talk for t in turns),
        "small_talk_share": _share(sum(t.small_talk for t in turns), len(turns)),
        "feedback_up": ratings["up"],
        "feedback_down": ratings["down"],
        "latency_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "cached_tokens": usage["cached_tokens"],
        "cost_usd": None
        if price is None
        else round(cost(price, usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"]), 6),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _handoffs(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """New hand-offs by rule, the most frequent first, with the reason a customer read."""
    counts = Counter(t.rule for t in turns if t.new_handoff)
    reasons = {t.rule: t.reason for t in turns if t.new_handoff}
    return [{"rule": rule, "reason": reasons[rule], "count": n} for rule, n in counts.most_common()]


def _cited(answers: Counter[str], snippets: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The snippets answers cited most and least (`answers`: how many cited each); with the
    bot file known, snippets never cited count as least cited."""
    counts = Counter(answers)
    for snippet in snippets:
        counts.setdefault(snippet, 0)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def row(snippet: str, n: int) -> dict[str, Any]:
        return {"snippet": snippet, "title": snippets.get(snippet), "answers": n}

    least = sorted(counts.items(), key=lambda item: (item[1], item[0]))[:_CITED]
    return {"most_cited": [row(s, n) for s, n in ranked[:_CITED] if n], "least_cited": [row(s, n) for s, n in least]}


def _did_not_help(turns: Sequence[Turn], answers: Counter[str], snippets: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per snippet, its answers that the customer's next message said did not help
    (`not_helped`) or that were rated down; the most such first."""
    said: Counter[str] = Counter()
    rated_down: Counter[str] = Counter()
    for turn, following in zip(turns, [*turns[1:], None], strict=True):
        if turn.action != "answer":
            continue
        if following and following.conversation_id == turn.conversation_id and following.rule == "not_helped":
            said.update(turn.citations)
        if turn.rating and turn.rating.rating == "down":
            rated_down.update(turn.citations)
    missed = sorted(set(said) | set(rated_down), key=lambda s: (-(said[s] + rated_down[s]), s))
    return [
        {
            "snippet": s,
            "title": snippets.get(s),
            "answers": answers[s],
            "not_helped": said[s],
            "rated_down": rated_down[s],
        }
        for s in missed[:_CITED]
    ]
