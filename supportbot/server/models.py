"""The JSON bodies of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..decision import Decision
from ..store import ConversationRow, MessageRow

__all__ = ["AgentMessageIn", "ClaimIn", "ConversationOut", "MessageIn", "ReleaseIn", "TurnOut", "conversation_out"]

_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_In):
    conversation_id: str | None = Field(None, pattern=_ID, description="Continue this conversation; omit to start one.")
    text: str = Field(description="The customer's message; its length limit is the bot's limits.max_message_chars.")
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)


class ClaimIn(_In):
    agent: str = Field(min_length=1, max_length=100, description="Who takes the conversation.")


class AgentMessageIn(_In):
    text: str = Field(min_length=1, max_length=10_000)


class ReleaseIn(_In):
    resume_bot: bool = Field(description="true: the bot answers again; false: the conversation is closed.")


class TurnOut(Decision):
    state: str = Field(description="bot_active | awaiting_agent | agent_active | closed")


class MessageOut(BaseModel):
    seq: int
    role: str
    text: str
    at: str
    author: str | None = None
    decision: dict[str, Any] | None = None


class HandoffOut(BaseModel):
    rule: str | None
    reason: str | None
    at: str | None


class ConversationOut(BaseModel):
    id: str
    bot_id: str
    state: str
    created_at: str
    updated_at: str
    agent: str | None
    handoff: HandoffOut | None
    metadata: dict[str, Any]
    messages: list[MessageOut]


def conversation_out(row: ConversationRow, messages: list[MessageRow]) -> ConversationOut:
    handoff = HandoffOut(rule=row.handoff_rule, reason=row.handoff_reason, at=row.handoff_at) if row.handoff_rule else None
    return ConversationOut(
        id=row.id, bot_id=row.bot_id, state=row.state, created_at=row.created_at, updated_at=row.updated_at,
        agent=row.agent, handoff=handoff, metadata=row.metadata,
        messages=[MessageOut(seq=m.seq, role=m.role, text=m.text, at=m.created_at, author=m.author, decision=m.decision) for m in messages],
    )
