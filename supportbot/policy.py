"""Escalation policy: when a conversation goes to a person. Pure functions, no I/O.

Rules are evaluated by code, never by the model: a customer cannot talk the bot out of a
hand-off rule, and a rule that fires before the model call means no model call at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import Escalation
from .decision import Handoff
from .reply import ModelReply

__all__ = [
    "CompiledRules",
    "ConversationFacts",
    "PostModel",
    "compile_rules",
    "decide_post_model",
    "decide_pre_model",
    "phrase_pattern",
]


@dataclass(frozen=True)
class _TextRule:
    id: str
    reason: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _StreakRule:
    id: str
    reason: str
    turns: int


@dataclass(frozen=True)
class CompiledRules:
    text_rules: tuple[_TextRule, ...]
    streak_rules: tuple[_StreakRule, ...]
    max_bot_turns: int | None
    confidence_threshold: float


@dataclass(frozen=True)
class ConversationFacts:
    """What the policy needs to know about the conversation so far."""

    bot_active: bool = True
    bot_turns: int = 0  # bot answers given so far
    unsure_streak: int = 0  # unsure answers in a row, up to the previous turn


@dataclass(frozen=True)
class PostModel:
    """The policy's verdict on a valid model reply."""

    citations: list[str]
    unsure: bool
    handoff: Handoff | None


def phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any phrase as whole words.

    Words of a phrase may be separated by any whitespace, so "real person" also matches
    "real\nperson"; "agent" does not match "agenda".
    """
    alternatives = sorted(
        (r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in phrases if phrase.strip()),
        key=len,
        reverse=True,
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def compile_rules(escalation: Escalation) -> CompiledRules:
    text_rules: list[_TextRule] = []
    streak_rules: list[_StreakRule] = []
    for rule in escalation.rules:
        reason = rule.description or f"escalation rule '{rule.id}'"
        if rule.if_user_says:
            text_rules.append(_TextRule(rule.id, reason, phrase_pattern(rule.if_user_says)))
        if rule.if_user_matches:
            text_rules.append(_TextRule(rule.id, reason, re.compile(rule.if_user_matches)))
        if rule.if_low_confidence_turns:
            streak_rules.append(_StreakRule(rule.id, reason, rule.if_low_confidence_turns))
    return CompiledRules(
        tuple(text_rules),
        tuple(sorted(streak_rules, key=lambda r: r.turns)),
        escalation.max_bot_turns,
        escalation.confidence_threshold,
    )


def decide_pre_model(rules: CompiledRules, facts: ConversationFacts, text: str) -> Handoff | None:
    """A hand-off decided before (and instead of) a model call, or None to ask the model."""
    if not facts.bot_active:
        return Handoff(rule="already_handed_off", reason="the conversation is with the support team")
    for rule in rules.text_rules:
        if rule.pattern.search(text):
            return Handoff(rule=rule.id, reason=rule.reason)
    if rules.max_bot_turns is not None and facts.bot_turns >= rules.max_bot_turns:
        return Handoff(
            rule="max_bot_turns",
            reason=f"the bot has answered {facts.bot_turns} times in this conversation (limit {rules.max_bot_turns})",
        )
    return None


def decide_post_model(
    rules: CompiledRules, facts: ConversationFacts, reply: ModelReply, offered: frozenset[str]
) -> PostModel:
    """Answer or hand off, given a valid model reply and the snippet ids that were in the prompt.

    Citations of snippets that were not offered are dropped: the model cannot cite what it
    was not given. An answer left without any citation is unsure; unsure answers in a row
    feed the `if_low_confidence_turns` rules. A reply below the confidence threshold is
    unsure too, and hands off at once.
    """
    citations = list(dict.fromkeys(c for c in reply.citations if c in offered))
    if reply.action == "handoff":
        reason = (reply.handoff_reason or "").strip() or "the model asked for a person"
        return PostModel(citations, False, Handoff(rule="model_requested", reason=reason))
    if reply.confidence < rules.confidence_threshold:
        reason = f"confidence {reply.confidence:.2f} is below the threshold {rules.confidence_threshold:.2f}"
        return PostModel(citations, True, Handoff(rule="low_confidence", reason=reason))
    unsure = not citations
    streak = facts.unsure_streak + 1 if unsure else 0
    for rule in rules.streak_rules:
        if streak >= rule.turns:
            reason = f"{rule.reason} ({streak} unsure replies in a row)"
            return PostModel(citations, True, Handoff(rule=rule.id, reason=reason))
    return PostModel(citations, unsure, None)
