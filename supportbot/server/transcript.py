"""What the service makes of stored conversations: prompt history, the hand-off packet
agents and webhooks see, and the cursor that pages the queue. Pure functions."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from .. import textnorm
from ..prompt import HistoryTurn
from ..store import ConversationRow, MessageRow, NewMessage

__all__ = ["BadCursor", "handoff_packet", "history_from", "page_cursor", "pending", "read_cursor", "summary_of"]

_LAST_MESSAGES = 6


class BadCursor(ValueError):
    """A queue cursor this server did not give out."""


def page_cursor(row: ConversationRow) -> str:
    """The opaque cursor of the page after `row`."""
    key = [row.handoff_at or "", row.created_at, row.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> tuple[str, str, str] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadCursor(cursor) from None
    if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
        return (key[0], key[1], key[2])
    raise BadCursor(cursor)


def history_from(messages: Sequence[MessageRow]) -> list[HistoryTurn]:
    """Stored messages as prompt history: a customer message and the bot reply after it
    form one turn; agent messages and unanswered customer messages stand alone."""
    turns: list[list[MessageRow]] = []
    for message in messages:
        if message.withheld:  # caught by a text rule: kept from every prompt
            continue
        if message.role == "bot" and turns and turns[-1][-1].role == "customer" and len(turns[-1]) == 1:
            turns[-1].append(message)
        else:
            turns.append([message])
    role = {"customer": "user", "bot": "assistant", "agent": "assistant"}
    return [
        HistoryTurn(
            tuple({"role": role[m.role], "content": textnorm.clean(m.text)} for m in group),
            sum(m.tokens for m in group),
        )
        for group in turns
    ]


def summary_of(messages: Sequence[MessageRow]) -> str:
    customer = [m.text for m in messages if m.role == "customer"]
    if not customer:
        return "No customer messages yet."
    first = customer[0] if len(customer[0]) <= 140 else customer[0][:137] + "..."
    last = customer[-1] if len(customer[-1]) <= 140 else customer[-1][:137] + "..."
    if len(customer) == 1:
        return f'The customer wrote: "{first}"'
    return f'The customer first wrote: "{first}"; last: "{last}" ({len(customer)} messages).'


def handoff_packet(row: ConversationRow, messages: Sequence[MessageRow]) -> dict[str, Any]:
    """What an agent (or the webhook) needs to pick a conversation up."""
    return {
        "conversation_id": row.id,
        "bot": row.bot_id,
        "state": row.state,
        "rule": row.handoff_rule,
        "reason": row.handoff_reason,
        "detail": row.handoff_detail,
        "handed_off_at": row.handoff_at,
        "created_at": row.created_at,
        "agent": row.agent,
        "summary": summary_of(messages),
        "last_messages": [
            {"role": m.role, "text": m.text, "at": m.created_at, "author": m.author} for m in messages[-_LAST_MESSAGES:]
        ],
    }


def pending(conversation_id: str, message: NewMessage, at: str) -> MessageRow:
    """A message about to be stored, as the hand-off packet shows it."""
    return MessageRow(conversation_id, 0, message.role, message.text, at, message.tokens, message.author)
