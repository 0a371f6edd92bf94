"""Stored conversations as turns: what each customer message got, and what followed it (a
pick of the options offered, the customer's rating, the agent's replies). Pure functions;
the report, FAQ gaps and exports are built on these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..store import ConversationActivity, Feedback, MessageRow

__all__ = ["NO_ANSWER_RULES", "Turn", "handed_off", "turns_of"]

#: Hand-offs for want of an answer (the bot did not know, or could not say it): the
#: messages FAQ gaps are made of. A bot file's own rules hand off on purpose.
NO_ANSWER_RULES = frozenset(
    {
        "no_match",
        "unsure_twice",
        "low_confidence",
        "model_requested",
        "ungrounded",
        "no_citations",
        "unknown_citations",
        "invalid_model_output",
        "model_unavailable",
    }
)


@dataclass(frozen=True)
class Turn:
    """One customer message and what became of it."""

    conversation_id: str
    bot_id: str
    seq: int
    at: str  # UTC ISO 8601, as stored
    text: str
    decision: dict[str, Any]
    rating: Feedback | None = None  # of the bot's reply to this message
    picked: bool = False  # a clarification whose next turn answered with one of its options
    agent_replies: tuple[str, ...] = ()  # what agents wrote after this turn's hand-off
    withheld: bool = False  # caught by a text rule (a card number): never exported
    asked_before: str | None = None  # the customer's message before this one, small talk aside
    asked_again: bool = False  # a clarification repeated after a number none of its options had
    after_clarification: bool = False  # the bot's previous reply (small talk aside) asked which snippet

    @property
    def day(self) -> str:
        return self.at[:10]

    @property
    def action(self) -> str:
        return str(self.decision.get("action", ""))

    @property
    def rule(self) -> str | None:
        handoff = self.decision.get("handoff")
        return handoff.get("rule") if isinstance(handoff, dict) else None

    @property
    def reason(self) -> str | None:
        handoff = self.decision.get("handoff")
        return handoff.get("reason") if isinstance(handoff, dict) else None

    @property
    def new_handoff(self) -> bool:
        """A hand-off this turn made (not a message written while a person had it)."""
        return self.action == "handoff" and self.rule != "already_handed_off"

    @property
    def unanswered(self) -> bool:
        return self.new_handoff and self.rule in NO_ANSWER_RULES

    @property
    def citations(self) -> list[str]:
        return [str(c) for c in self.decision.get("citations") or []]

    @property
    def options(self) -> list[str]:
        return [str(o.get("id")) for o in self.decision.get("options") or [] if isinstance(o, dict)]

    @property
    def small_talk(self) -> bool:
        return bool(self.decision.get("small_talk"))


def turns_of(conversations: Iterable[ConversationActivity]) -> list[Turn]:
    """Every customer message that has a decision, in conversation order."""
    found: list[Turn] = []
    for activity in conversations:
        found.extend(_conversation_turns(activity))
    return found


def _conversation_turns(activity: ConversationActivity) -> list[Turn]:
    messages = activity.messages
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        if message.role != "customer" or message.decision is None:
            continue
        following = _until_next_customer(messages, index)
        reply = next((m for m in following if m.role == "bot"), None)
        turns.append(
            Turn(
                conversation_id=activity.row.id,
                bot_id=activity.row.bot_id,
                seq=message.seq,
                at=message.created_at,
                text=message.text,
                decision=message.decision,
                rating=activity.feedback.get(reply.seq) if reply else None,
                picked=_picked(message.decision, messages[index + 1 :]),
                agent_replies=_agent_replies(message.decision, messages[index + 1 :]),
                withheld=message.withheld,
                asked_before=next((t.text for t in reversed(turns) if not t.small_talk), None),
                asked_again=_asked_again(message.decision, turns),
                after_clarification=next((t.action == "clarify" for t in reversed(turns) if not t.small_talk), False),
            )
        )
    return turns


def _asked_again(decision: dict[str, Any], before: Sequence[Turn]) -> bool:
    """A clarification with the options of the clarification just before it (small talk
    aside): the same question asked again ("2" to one option), not a new one."""
    previous = next((t for t in reversed(before) if not t.small_talk), None)
    return previous is not None and _repeats(decision, previous.decision)


def _repeats(decision: dict[str, Any], earlier: dict[str, Any]) -> bool:
    """Whether `decision` asks `earlier`'s clarification again, with the same options."""
    return decision.get("action") == earlier.get("action") == "clarify" and _options(decision) == _options(earlier)


def _options(decision: dict[str, Any]) -> list[str]:
    return [str(o.get("id")) for o in decision.get("options") or [] if isinstance(o, dict)]


def handed_off(activity: ConversationActivity) -> bool:
    """Whether any turn of the conversation handed it to a person."""
    return any(_is_handoff(m) for m in activity.messages)


def _is_handoff(message: MessageRow) -> bool:
    return bool(message.decision and message.decision.get("action") == "handoff")


def _until_next_customer(messages: Sequence[MessageRow], index: int) -> list[MessageRow]:
    following = []
    for message in messages[index + 1 :]:
        if message.role == "customer":
            break
        following.append(message)
    return following


def _picked(decision: dict[str, Any], after: Sequence[MessageRow]) -> bool:
    """A clarification counts as picked when the customer's next message was answered
    with one of the snippets it offered; small talk in between ("hmm") leaves it open, as
    it does in the engine, and so does the bot asking it again ("2" to one option)."""
    if decision.get("action") != "clarify":
        return False
    offered = set(_options(decision))
    replies = ((m, m.decision or {}) for m in after if m.role == "customer")
    nxt = next((m for m, d in replies if not d.get("small_talk") and not _repeats(d, decision)), None)
    if nxt is None or not nxt.decision or nxt.decision.get("action") != "answer":
        return False
    return bool(offered & set(nxt.decision.get("citations") or []))


def _agent_replies(decision: dict[str, Any], after: Sequence[MessageRow]) -> tuple[str, ...]:
    """For a turn that handed off: the agents' messages that answered it, up to the next
    hand-off (a later question is the next hand-off's)."""
    handoff = decision.get("handoff")
    if decision.get("action") != "handoff" or not isinstance(handoff, dict):
        return ()
    if handoff.get("rule") == "already_handed_off":
        return ()
    replies = []
    for message in after:
        if message.role == "agent":
            replies.append(message.text)
        elif _is_handoff(message) and (message.decision or {}).get("handoff", {}).get("rule") != "already_handed_off":
            break
    return tuple(replies)
