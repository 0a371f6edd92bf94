"""The outbox, in SQL over a cursor: hand-off webhooks, and calls to channels' platforms
(Chatwoot), written with or right after a turn and sent in the background with retries.

A channel's rows of one conversation go out in order: a row is due only when every older
row of its conversation was delivered (or given up), so a hand-off's note never overtakes
its reply, while one conversation's failures hold no other conversation back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .records import OutboxRow
from .rows import Cursor, utc_now
from .schema import NEVER

__all__ = ["claim_due", "enqueue", "first_delivery", "undelivered"]

_DUE = "delivered_at IS NULL AND next_attempt_at <= ? AND lease_until < ?"
_IN_ORDER = (
    "AND NOT EXISTS (SELECT 1 FROM outbox earlier WHERE earlier.channel = outbox.channel "
    "AND earlier.conversation_id = outbox.conversation_id AND earlier.delivered_at IS NULL "
    "AND earlier.next_attempt_at < ? AND earlier.id < outbox.id)"
)


def claim_due(cursor: Cursor, limit: int, lease_seconds: float, channel: str | None) -> list[OutboxRow]:
    """Lease due rows (webhooks when `channel` is None) so no other process sends them."""
    now = time.time()
    if channel is None:
        cursor.execute(
            f"SELECT id, payload, attempts FROM outbox WHERE {_DUE} AND channel IS NULL ORDER BY id LIMIT ?",
            (now, now, limit),
        )
    else:
        cursor.execute(
            f"SELECT id, payload, attempts FROM outbox WHERE {_DUE} AND channel = ? {_IN_ORDER} ORDER BY id LIMIT ?",
            (now, now, channel, NEVER, limit),
        )
    claimed = []
    for row_id, payload, attempts in cursor.fetchall():
        cursor.execute(
            "UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_until < ?", (now + lease_seconds, row_id, now)
        )
        if cursor.rowcount == 1:
            claimed.append(OutboxRow(int(row_id), json.loads(payload), int(attempts)))
    return claimed


def enqueue(cursor: Cursor, channel: str, conversation_id: str, payloads: Sequence[dict[str, Any]]) -> None:
    now = time.time()
    for payload in payloads:
        cursor.execute(
            "INSERT INTO outbox (payload, next_attempt_at, conversation_id, channel) VALUES (?, ?, ?, ?)",
            (json.dumps(payload), now, conversation_id, channel),
        )


def first_delivery(cursor: Cursor, channel: str, event_id: str) -> bool:
    """Record that `channel` received `event_id`; False when it had already."""
    cursor.execute(
        "INSERT INTO channel_events (channel, event_id, received_at) VALUES (?, ?, ?) "
        "ON CONFLICT (channel, event_id) DO NOTHING",
        (channel, event_id, utc_now()),
    )
    return bool(cursor.rowcount == 1)


def undelivered(cursor: Cursor, channel: str, conversation_id: str) -> int:
    """How many of `channel`'s calls for the conversation are still to be sent."""
    cursor.execute(
        "SELECT COUNT(*) FROM outbox WHERE channel = ? AND conversation_id = ? AND delivered_at IS NULL "
        "AND next_attempt_at < ?",
        (channel, conversation_id, NEVER),
    )
    return int(cursor.fetchone()[0])
