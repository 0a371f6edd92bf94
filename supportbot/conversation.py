"""A conversation as the engine sees it: its state and the turns so far."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .decision import Decision, Option
from .lifecycle import ConversationState
from .policy import ConversationFacts
from .prompt import HistoryTurn
from .smalltalk import split_small_talk

__all__ = ["Conversation", "ConversationState", "TurnRecord"]

#: How far back to look for the customer's questions, past small talk.
_LOOK_BACK = 4


@dataclass(frozen=True)
class TurnRecord:
    user_text: str
    decision: Decision
    history: HistoryTurn  # the exchange as later prompts will see it
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Conversation:
    bot_id: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: ConversationState = ConversationState.BOT_ACTIVE
    turns: list[TurnRecord] = field(default_factory=list)
    bot_turns: int = 0
    unsure_streak: int = 0
    #: Exchanges from before this object existed (loaded from a store), oldest first.
    past: list[HistoryTurn] = field(default_factory=list)
    #: The options of the clarification the bot just asked, if it did: the next message may pick one.
    clarifying: tuple[Option, ...] = ()

    def facts(self) -> ConversationFacts:
        return ConversationFacts(self.state == "bot_active", self.bot_turns, self.unsure_streak)

    def history(self) -> list[HistoryTurn]:
        return self.past + [t.history for t in self.turns]

    def last_reply(self) -> str | None:
        """What the bot said last, if anything."""
        replies = self._said("assistant")
        return replies[-1] if replies else None

    def recent_questions(self, n: int) -> list[str]:
        """The customer's last `n` messages that asked something, oldest first, each without its
        greeting or thanks: "ok" or "thanks!" between a question and its follow-up ("and for a
        whole year?") steers nothing, and joined to the follow-up it hid the question."""
        questions: list[str] = []
        for text in reversed(self._said("user")[-_LOOK_BACK:]):
            if len(questions) == n:
                break
            split = split_small_talk(text)
            if split.small_talk is None:
                questions.insert(0, split.question)
        return questions

    def _said(self, role: str) -> list[str]:
        return [m["content"] for turn in self.history() for m in turn.messages if m["role"] == role]

    def record(self, turn: TurnRecord, *, unsure: bool) -> None:
        """Add a finished turn and move the state the decision implies. Small talk is
        neither a bot answer nor unsure, and leaves an open clarification open ("hmm", then
        "2"); a clarification is an unsure turn."""
        self.turns.append(turn)
        decision = turn.decision
        if decision.small_talk is None:
            self.clarifying = tuple(decision.options) if decision.action == "clarify" else ()
        if decision.action == "clarify":
            self.unsure_streak += 1
        elif decision.action == "answer" and decision.small_talk is None:
            self.bot_turns += 1
            self.unsure_streak = self.unsure_streak + 1 if unsure else 0
        elif decision.action == "handoff" and self.state == ConversationState.BOT_ACTIVE:
            self.state = ConversationState.AWAITING_AGENT
