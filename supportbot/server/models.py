"""The JSON bodies of the HTTP API."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..decision import Decision
from ..store import ConversationRow, Feedback, MessageRow

__all__ = [
    "BOT_ID",
    "CONVERSATION_ID",
    "MAX_METADATA_BYTES",
    "MAX_SEQ",
    "AgentMessageIn",
    "BotOut",
    "ClaimIn",
    "ConversationOut",
    "FeedbackIn",
    "FeedbackOut",
    "MessageIn",
    "MessageOut",
    "ReleaseIn",
    "TurnOut",
    "conversation_out",
    "feedback_out",
    "message_out",
    "storable",
]

CONVERSATION_ID = r"^[A-Za-z0-9_-]{1,64}$"
#: Sequence numbers are INTEGER columns: a larger one can match nothing.
MAX_SEQ = 2**31 - 1
BOT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:?-]{0,127}$"
_ID = CONVERSATION_ID
MAX_METADATA_BYTES = 4096
# What no database column can hold: NUL (PostgreSQL refuses it in text) and lone
# surrogates (not Unicode: no UTF-8 encoder takes them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    """The value, if every character of it can be stored and read back; else a ValueError
    naming the character (pydantic turns it into a 422 naming the field)."""
    found = _UNSTORABLE.search(value)
    if found:
        code = ord(found.group())
        what = "NUL" if code == 0 else "a lone surrogate, which is not valid Unicode"
        raise ValueError(f"contains U+{code:04X} ({what}) at position {found.start()}; remove it")
    return value


Text = Annotated[str, AfterValidator(storable)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_In):
    conversation_id: str | None = Field(None, pattern=_ID, description="Continue this conversation; omit to start one.")
    text: Text = Field(description="The customer's message; its length limit is the bot's limits.max_message_chars.")
    option: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:?-]{0,127}$",
        description="The id of the clarification option the customer picked (a button); `text` is then its title.",
    )
    metadata: dict[
        Annotated[Text, Field(max_length=64)], Annotated[Text, Field(max_length=1000)] | int | float | bool | None
    ] = Field(
        default_factory=dict,
        max_length=50,
        description=f"Up to 50 keys of at most 64 characters, values of at most 1,000; {MAX_METADATA_BYTES} bytes as JSON in all.",
    )

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(metadata, ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are allowed")
        return metadata


class FeedbackIn(_In):
    message: int = Field(ge=1, le=MAX_SEQ, description="The seq of the bot message rated.")
    rating: Literal["up", "down"]
    comment: Text | None = Field(None, max_length=2000, description="What the customer adds, in words.")


class FeedbackOut(BaseModel):
    rating: str
    comment: str | None = None
    at: str


class ClaimIn(_In):
    agent: Text = Field(min_length=1, max_length=100, description="Who takes the conversation.")


class AgentMessageIn(_In):
    text: Text = Field(min_length=1, max_length=10_000)


class ReleaseIn(_In):
    resume_bot: bool = Field(description="true: the bot answers again; false: the conversation is closed.")


class TurnOut(Decision):
    state: str = Field(description="bot_active | awaiting_agent | agent_active | closed")
    reply_seq: int | None = Field(
        None, description="The seq of the bot's reply as stored (rate it with .../feedback); null when none was stored."
    )


class BotOut(BaseModel):
    id: str
    name: str
    description: str


class MessageOut(BaseModel):
    seq: int
    role: str
    text: str
    at: str
    author: str | None = None
    decision: dict[str, Any] | None = None
    feedback: FeedbackOut | None = Field(None, description="The customer's rating of this bot message, if any.")


def feedback_out(feedback: Feedback) -> FeedbackOut:
    return FeedbackOut(rating=feedback.rating, comment=feedback.comment, at=feedback.at)


def message_out(message: MessageRow, feedback: Feedback | None = None) -> MessageOut:
    return MessageOut(
        seq=message.seq,
        role=message.role,
        text=message.text,
        at=message.created_at,
        author=message.author,
        decision=message.decision,
        feedback=feedback_out(feedback) if feedback else None,
    )


class HandoffOut(BaseModel):
    rule: str | None
    reason: str | None
    at: str | None
    detail: str | None = Field(None, description="What happened in detail; only for agent keys.")


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


def conversation_out(
    row: ConversationRow,
    messages: list[MessageRow],
    feedback: dict[int, Feedback] | None = None,
    *,
    for_agent: bool = False,
) -> ConversationOut:
    """The conversation as a client sees it, ratings included; hand-off details only for agents."""
    handoff = None
    if row.handoff_rule:
        detail = row.handoff_detail if for_agent else None
        handoff = HandoffOut(rule=row.handoff_rule, reason=row.handoff_reason, at=row.handoff_at, detail=detail)
    return ConversationOut(
        id=row.id,
        bot_id=row.bot_id,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        agent=row.agent,
        handoff=handoff,
        metadata=row.metadata,
        messages=[message_out(m, (feedback or {}).get(m.seq)) for m in messages],
    )
