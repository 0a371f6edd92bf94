"""Escalation policy: when a conversation goes to a person. Pure functions, no I/O.

Rules are evaluated by code, never by the model: a customer cannot talk the bot out of a
hand-off rule, and a rule that fires before the model call means no model call at all.

Text rules match a normalised form of the message (textnorm.py), so invisible characters
and look-alike letters cannot hide a word from them. Regular expressions run with a time
bound (the `regex` package's per-call timeout): a pattern that backtracks catastrophically
on some message cannot freeze the server. A rule that runs out of time counts as fired:
when in doubt, a person looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import regex

from . import textnorm
from .config import Escalation
from .decision import Handoff, builtin_handoff
from .not_helped import says_not_helped
from .person import asks_for_person
from .reply import ModelReply

__all__ = [
    "FAST_RULE_S",
    "SLOW_RULE_S",
    "TIMED_OUT",
    "CompiledRules",
    "ConversationFacts",
    "PostModel",
    "RuleTimedOut",
    "compile_rules",
    "decide_post_model",
    "decide_pre_model",
    "phrase_pattern",
]

#: Time one regex rule may take on the event loop. Real rules on real messages take
#: microseconds; one that takes longer is re-run off the loop with SLOW_RULE_S.
FAST_RULE_S = 0.02
#: Time one regex rule may take in a worker thread before it counts as fired.
SLOW_RULE_S = 1.0


TIMED_OUT = f"the rule's regular expression ran out of time ({SLOW_RULE_S:g}s) on this message; handed off to be safe"


@dataclass(frozen=True)
class _TextRule:
    id: str
    reason: str
    pattern: regex.Pattern[str]
    folded: bool  # phrase rules match the folded text, regex rules the cleaned text


class RuleTimedOut(Exception):
    """A regex rule ran out of its time on the event loop: run the rules again off it."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"rule '{rule_id}' ran out of time")
        self.rule_id = rule_id


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
    require_citations: bool = False
    hand_off_on_request: bool = True

    @cached_property
    def text_rule_ids(self) -> frozenset[str]:
        """Rules that judge the customer's words: a message one of them caught is kept
        out of later prompts."""
        return frozenset(rule.id for rule in self.text_rules)


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


def phrase_pattern(phrases: list[str]) -> regex.Pattern[str]:
    """One pattern matching any phrase as whole words, on folded text (see textnorm).

    Words of a phrase may be separated by any whitespace, so "real person" also matches
    "real\nperson"; "agent" does not match "agenda".
    """
    alternatives = sorted(
        (
            r"\s+".join(regex.escape(word) for word in textnorm.fold(phrase).split())
            for phrase in phrases
            if phrase.strip()
        ),
        key=len,
        reverse=True,
    )
    return regex.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def compile_rules(escalation: Escalation) -> CompiledRules:
    text_rules: list[_TextRule] = []
    streak_rules: list[_StreakRule] = []
    for rule in escalation.rules:
        reason = rule.description or f"escalation rule '{rule.id}'"
        if rule.if_user_says:
            text_rules.append(_TextRule(rule.id, reason, phrase_pattern(rule.if_user_says), folded=True))
        if rule.if_user_matches:
            text_rules.append(_TextRule(rule.id, reason, regex.compile(rule.if_user_matches), folded=False))
        if rule.if_low_confidence_turns:
            streak_rules.append(_StreakRule(rule.id, reason, rule.if_low_confidence_turns))
    return CompiledRules(
        tuple(text_rules),
        tuple(sorted(streak_rules, key=lambda r: r.turns)),
        escalation.max_bot_turns,
        escalation.confidence_threshold,
        escalation.require_citations,
        escalation.hand_off_on_request,
    )


def decide_pre_model(
    rules: CompiledRules, facts: ConversationFacts, text: str, *, slow: bool = False
) -> Handoff | None:
    """A hand-off decided before (and instead of) a model call, or None to ask the model.

    With `slow` False (on the event loop) each regex rule gets FAST_RULE_S and one that
    needs more raises RuleTimedOut; with `slow` True (in a worker thread, the GIL released
    while matching) it gets SLOW_RULE_S, and one that needs more counts as fired."""
    if not facts.bot_active:
        return builtin_handoff("already_handed_off")
    cleaned = textnorm.clean(text)
    folded = textnorm.fold(cleaned) if rules.text_rules else cleaned
    for rule in rules.text_rules:
        try:
            if rule.pattern.search(
                folded if rule.folded else cleaned, timeout=SLOW_RULE_S if slow else FAST_RULE_S, concurrent=slow
            ):
                return Handoff(rule=rule.id, reason=rule.reason)
        except TimeoutError:
            if not slow:
                raise RuleTimedOut(rule.id) from None
            return Handoff(rule=rule.id, reason=rule.reason, detail=TIMED_OUT)
    if rules.hand_off_on_request and asks_for_person(cleaned):
        return builtin_handoff("asked_for_person")
    if facts.bot_turns and says_not_helped(cleaned):
        return builtin_handoff("not_helped", "the customer said the bot's last answer did not help")
    if rules.max_bot_turns is not None and facts.bot_turns >= rules.max_bot_turns:
        detail = f"the bot has answered {facts.bot_turns} times in this conversation (limit {rules.max_bot_turns})"
        return builtin_handoff("max_bot_turns", detail)
    return None


def decide_post_model(
    rules: CompiledRules, facts: ConversationFacts, reply: ModelReply, offered: frozenset[str]
) -> PostModel:
    """Answer or hand off, given a valid model reply and the snippet ids that were in the prompt.

    Citations of snippets that were not offered are dropped: the model cannot cite what it
    was not given, and an answer whose citations were all unknown hands off
    (`unknown_citations`): it claims a source the bot does not have. An answer that cites
    nothing hands off with `escalation.require_citations` (`no_citations`); otherwise it is
    unsure, and unsure answers in a row feed the `if_low_confidence_turns` rules. A reply
    below the confidence threshold is unsure too, and hands off at once.
    """
    citations = list(dict.fromkeys(c for c in reply.citations if c in offered))
    if reply.action == "handoff":
        note = (reply.handoff_reason or "").strip() or None
        return PostModel(citations, False, builtin_handoff("model_requested", note))
    if reply.confidence < rules.confidence_threshold:
        detail = f"confidence {reply.confidence:.2f} is below the threshold {rules.confidence_threshold:.2f}"
        return PostModel(citations, True, builtin_handoff("low_confidence", detail))
    if reply.citations and not citations:
        detail = f"the answer cited only snippets that were not offered: {', '.join(reply.citations[:5])}"
        return PostModel(citations, True, builtin_handoff("unknown_citations", detail[:500]))
    if not citations and rules.require_citations:
        return PostModel(citations, True, builtin_handoff("no_citations", "the answer cited no snippet"))
    unsure = not citations
    streak = facts.unsure_streak + 1 if unsure else 0
    for rule in rules.streak_rules:
        if streak >= rule.turns:
            detail = f"{streak} unsure replies in a row"
            return PostModel(citations, True, Handoff(rule=rule.id, reason=rule.reason, detail=detail))
    return PostModel(citations, unsure, None)
