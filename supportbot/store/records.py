"""What the store keeps: conversations, their messages, and hand-off webhooks to deliver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..lifecycle import STATES, ConversationState

__all__ = [
    "STATES",
    "ConversationActivity",
    "ConversationRow",
    "ConversationState",
    "Feedback",
    "FeedbackRefused",
    "HandoffRecord",
    "IllegalTransition",
    "MessageRow",
    "NewMessage",
    "OutboxRow",
    "Role",
    "StoreError",
    "UnknownConversation",
]

Role = Literal["customer", "bot", "agent"]


class StoreError(Exception):
    """The database failed or refused; the message says which operation."""


class UnknownConversation(StoreError):
    pass


class FeedbackRefused(StoreError):
    """A rating of something that is not a bot message of the conversation."""


class IllegalTransition(StoreError):
    """A lifecycle step that the conversation's current state does not allow."""

    def __init__(self, conversation_id: str, current: str, wanted: str) -> None:
        super().__init__(f"conversation is {current}; cannot {wanted}")
        self.conversation_id = conversation_id
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class ConversationRow:
    id: str
    bot_id: str
    state: ConversationState
    created_at: str
    updated_at: str
    bot_turns: int = 0
    unsure_streak: int = 0
    agent: str | None = None
    handoff_rule: str | None = None
    handoff_reason: str | None = None
    handoff_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    handoff_detail: str | None = None  # for agents; handoff_reason is fit for the customer
    clarifying: list[dict[str, str]] = field(default_factory=list)  # options the bot just offered: {id, title}


@dataclass(frozen=True)
class MessageRow:
    conversation_id: str
    seq: int
    role: Role
    text: str
    created_at: str
    tokens: int = 0
    author: str | None = None  # the agent's name for agent messages
    decision: dict[str, Any] | None = None  # for customer messages: what the bot decided
    withheld: bool = False  # caught by a text rule: never put in a later prompt


@dataclass(frozen=True)
class NewMessage:
    """A message to store with a turn."""

    role: Role
    text: str
    tokens: int = 0
    author: str | None = None
    decision: dict[str, Any] | None = None
    withheld: bool = False


@dataclass(frozen=True)
class OutboxRow:
    id: int
    payload: dict[str, Any]
    attempts: int
    delivered_at: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class HandoffRecord:
    """A hand-off as the conversation keeps it."""

    rule: str
    reason: str  # fit for the customer's client
    detail: str | None = None  # for agents and logs


@dataclass(frozen=True)
class Feedback:
    """A customer's rating of one bot message; the latest one counts."""

    seq: int
    rating: Literal["up", "down"]
    comment: str | None
    at: str


@dataclass(frozen=True)
class ConversationActivity:
    """A conversation with everything stored about it, for reports, gaps and exports."""

    row: ConversationRow
    messages: list[MessageRow]
    feedback: dict[int, Feedback]  # by the seq of the bot message rated
