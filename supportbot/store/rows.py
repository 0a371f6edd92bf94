"""What the SQL store and its dialects share: the DB-API cursor and dialect they speak, and
rows read into named records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from .records import ConversationRow, ConversationState, MessageRow, UnknownConversation
from .schema import CONVERSATION_COLUMNS, MESSAGE_COLUMNS

__all__ = ["Cursor", "Dialect", "conversation", "history", "message", "messages", "utc_now"]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Dialect(Protocol):
    name: str
    serial: str  # an auto-incrementing integer primary key
    threads: int

    def transaction(self) -> AbstractContextManager[Cursor]: ...
    def migration_lock(self, cursor: Cursor) -> None: ...
    def close(self) -> None: ...


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CONVERSATION_FIELDS = tuple(name.strip() for name in CONVERSATION_COLUMNS.split(","))
_MESSAGE_FIELDS = tuple(name.strip() for name in MESSAGE_COLUMNS.split(","))


def conversation(row: Sequence[Any]) -> ConversationRow:
    values = dict(zip(_CONVERSATION_FIELDS, row, strict=True))
    values["metadata"] = json.loads(values["metadata"] or "{}")
    values["state"] = ConversationState(values["state"])
    values["clarifying"] = json.loads(values["clarifying"] or "[]")
    return ConversationRow(**values)


def message(row: Sequence[Any]) -> MessageRow:
    values = dict(zip(_MESSAGE_FIELDS, row, strict=True))
    values["decision"] = json.loads(values["decision"]) if values["decision"] else None
    values["withheld"] = bool(values["withheld"])
    return MessageRow(**values)


def get(cursor: Cursor, conversation_id: str) -> ConversationRow:
    cursor.execute(f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
    row = cursor.fetchone()
    if row is None:
        raise UnknownConversation(conversation_id)
    return conversation(row)


def history(cursor: Cursor, conversation_id: str) -> list[MessageRow]:
    """The messages without their stored decisions: what a turn needs, cheaper to load."""
    cursor.execute(
        "SELECT conversation_id, seq, role, text, created_at, tokens, author, withheld FROM messages WHERE conversation_id = ? ORDER BY seq",
        (conversation_id,),
    )
    return [
        MessageRow(conversation_id=c, seq=q, role=r, text=t, created_at=at, tokens=n, author=a, withheld=bool(w))
        for c, q, r, t, at, n, a, w in cursor.fetchall()
    ]


def messages(cursor: Cursor, conversation_id: str, after_seq: int = 0) -> list[MessageRow]:
    cursor.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq",
        (conversation_id, after_seq),
    )
    return [message(r) for r in cursor.fetchall()]
