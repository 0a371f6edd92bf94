"""What happened in conversations, in SQL over a cursor: customer feedback, the reads that
reports, FAQ gaps and exports are built from, and deleting conversations (retention)."""

from __future__ import annotations

import json
from collections import defaultdict

from .records import ConversationActivity, Feedback, FeedbackRefused, MessageRow, UnknownConversation
from .rows import Cursor, conversation, message, utc_now
from .schema import CONVERSATION_COLUMNS, MESSAGE_COLUMNS

__all__ = ["delete", "feedback", "rate", "read"]

_CHUNK = 500  # ids per statement: well within both databases' parameter limits
_FEEDBACK_COLUMNS = "conversation_id, seq, rating, comment, updated_at"


def rate(cursor: Cursor, conversation_id: str, seq: int, rating: str, comment: str | None) -> Feedback:
    """Store the customer's rating of bot message `seq`, replacing an earlier one."""
    cursor.execute("SELECT role FROM messages WHERE conversation_id = ? AND seq = ?", (conversation_id, seq))
    found = cursor.fetchone()
    if found is None:
        cursor.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
        if cursor.fetchone() is None:
            raise UnknownConversation(conversation_id)
        raise FeedbackRefused(f"the conversation has no message {seq} (rate a bot message by its seq)")
    if found[0] != "bot":
        raise FeedbackRefused(f"message {seq} is the {found[0]}'s; only the bot's messages can be rated")
    now = utc_now()
    cursor.execute(
        "INSERT INTO feedback (conversation_id, seq, rating, comment, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (conversation_id, seq) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, "
        "updated_at = excluded.updated_at",
        (conversation_id, seq, rating, comment, now, now),
    )
    cursor.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
    return Feedback(seq, rating, comment, now)  # type: ignore[arg-type]


def feedback(cursor: Cursor, conversation_id: str) -> dict[int, Feedback]:
    cursor.execute(f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE conversation_id = ?", (conversation_id,))
    return {int(row[1]): _feedback(row) for row in cursor.fetchall()}


def _feedback(row: tuple[str, int, str, str | None, str]) -> Feedback:
    return Feedback(int(row[1]), row[2], row[3], row[4])  # type: ignore[arg-type]


def read(cursor: Cursor, bot_id: str | None, since: str | None) -> list[ConversationActivity]:
    """Every conversation (of `bot_id`, if given) that changed at or after `since`, with its
    messages and feedback, oldest first: three queries, whatever the number of conversations."""
    where = "WHERE bot_id = COALESCE(?, bot_id) AND updated_at >= COALESCE(?, updated_at)"
    params = (bot_id, since)
    cursor.execute(f"SELECT {CONVERSATION_COLUMNS} FROM conversations {where} ORDER BY created_at, id", params)
    rows = [conversation(found) for found in cursor.fetchall()]
    chosen = f"SELECT id FROM conversations {where}"
    messages: dict[str, list[MessageRow]] = defaultdict(list)
    cursor.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id IN ({chosen}) ORDER BY conversation_id, seq",
        params,
    )
    for found in cursor.fetchall():
        messages[found[0]].append(message(found))
    ratings: dict[str, dict[int, Feedback]] = defaultdict(dict)
    cursor.execute(f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE conversation_id IN ({chosen})", params)
    for found in cursor.fetchall():
        ratings[found[0]][int(found[1])] = _feedback(found)
    return [ConversationActivity(row, messages[row.id], ratings[row.id]) for row in rows]


def delete(cursor: Cursor, conversation_ids: list[str]) -> int:
    """Remove conversations with their messages (decisions included), feedback, tickets and
    webhook rows; returns how many conversations there were."""
    # Webhook rows written before they carried their conversation's id (schema version 4)
    # are matched by the id in their payload, one by one: only while there are any.
    cursor.execute("SELECT 1 FROM outbox WHERE conversation_id IS NULL LIMIT 1")
    legacy = cursor.fetchone() is not None
    deleted = 0
    for start in range(0, len(conversation_ids), _CHUNK):
        chunk = conversation_ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for table in ("messages", "feedback", "tickets", "outbox"):
            cursor.execute(f"DELETE FROM {table} WHERE conversation_id IN ({marks})", chunk)
        for conversation_id in chunk if legacy else ():
            pattern = "%" + json.dumps({"conversation_id": conversation_id})[1:-1] + "%"
            cursor.execute("DELETE FROM outbox WHERE conversation_id IS NULL AND payload LIKE ?", (pattern,))
        cursor.execute(f"DELETE FROM conversations WHERE id IN ({marks})", chunk)
        deleted += max(cursor.rowcount, 0)
    return deleted
