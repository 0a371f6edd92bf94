"""The per-conversation queue, in SQL over a cursor: one turn at a time, in arrival order,
across processes.

Each message takes a ticket (`next_ticket`); the turn whose ticket equals `serving` may run.
Storing a turn advances `serving` in the same transaction (sql.py). Each ticket's owner is
recorded in `tickets` while it waits or runs, so that when a process is known to be dead,
all its tickets are freed at once. A ticket whose owner died on another host is skipped
once `serving_until` passes: the running turn's lease, or the grace period the next ticket
gets to claim its place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from .records import ConversationRow, MessageRow, UnknownConversation
from .rows import Cursor, conversation, history, utc_now
from .schema import CONVERSATION_COLUMNS

__all__ = ["abandon", "advance", "begin", "release_ticket", "try_serve"]

Served = tuple[str, ConversationRow | None, list[MessageRow]]


def begin(
    cursor: Cursor,
    conversation_id: str,
    owner: str,
    lease_s: float,
    grace_s: float,
    *,
    create_for: str | None,
    bot_id: str | None,
    metadata: dict[str, Any] | None,
) -> tuple[int, str, ConversationRow | None, list[MessageRow]]:
    """Take a ticket and, when the queue is free, start serving it and load the
    conversation, all in one transaction: the common case costs one round trip."""
    now = time.time()
    if create_for is not None:
        stamp = utc_now()
        cursor.execute(
            "INSERT INTO conversations (id, bot_id, state, created_at, updated_at, metadata) VALUES (?, ?, 'bot_active', ?, ?, ?)",
            (conversation_id, create_for, stamp, stamp, json.dumps(metadata or {})),
        )
    # Take a ticket; on an idle queue it is served next, so its grace period starts now.
    cursor.execute(
        "UPDATE conversations SET next_ticket = next_ticket + 1, "
        "serving_until = CASE WHEN serving = next_ticket THEN ? ELSE serving_until END "
        "WHERE id = ? AND bot_id = COALESCE(?, bot_id) RETURNING next_ticket, serving, serving_until",
        (now + grace_s, conversation_id, bot_id),
    )
    taken = cursor.fetchone()
    if taken is None:
        raise UnknownConversation(conversation_id)
    ticket, serving, until = int(taken[0]) - 1, int(taken[1]), float(taken[2])
    cursor.execute(
        "INSERT INTO tickets (conversation_id, ticket, owner) VALUES (?, ?, ?)", (conversation_id, ticket, owner)
    )
    status, row, loaded = _serve(cursor, conversation_id, ticket, owner, serving, until, lease_s, grace_s, now)
    return ticket, status, row, loaded


def try_serve(cursor: Cursor, conversation_id: str, ticket: int, owner: str, lease_s: float, grace_s: float) -> Served:
    """("serving", the conversation, its messages) when this ticket may run now;
    else ("waiting" | "skipped", None, [])."""
    now = time.time()
    cursor.execute("SELECT serving, serving_until FROM conversations WHERE id = ?", (conversation_id,))
    serving, until = cursor.fetchone()
    return _serve(cursor, conversation_id, ticket, owner, int(serving), float(until), lease_s, grace_s, now)


def _serve(
    cursor: Cursor,
    conversation_id: str,
    ticket: int,
    owner: str,
    serving: int,
    until: float,
    lease_s: float,
    grace_s: float,
    now: float,
) -> Served:
    if serving > ticket:
        return "skipped", None, []
    if serving < ticket:
        if until < now:  # the ticket being served was abandoned
            advance(cursor, conversation_id, serving, grace_s)
        else:
            cursor.execute("SELECT 1 FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, serving))
            if cursor.fetchone() is None:  # its owner was found dead and its tickets freed
                _skip_freed(cursor, conversation_id, grace_s)
        return "waiting", None, []
    # Serving this ticket. A customer message to a closed conversation reopens it to the
    # bot, as a helpdesk reopens a solved ticket: a new episode, counters reset.
    cursor.execute(
        "UPDATE conversations SET serving_until = ?, serving_owner = ?, "
        "state = CASE WHEN state = 'closed' THEN 'bot_active' ELSE state END, "
        "bot_turns = CASE WHEN state = 'closed' THEN 0 ELSE bot_turns END, "
        "unsure_streak = CASE WHEN state = 'closed' THEN 0 ELSE unsure_streak END, "
        "agent = CASE WHEN state = 'closed' THEN NULL ELSE agent END "
        f"WHERE id = ? AND serving = ? RETURNING {CONVERSATION_COLUMNS}",
        (now + lease_s, owner, conversation_id, ticket),
    )
    return "serving", conversation(cursor.fetchone()), history(cursor, conversation_id)


def advance(cursor: Cursor, conversation_id: str, ticket: int, grace_s: float) -> None:
    """Done with `ticket` (given up, or abandoned): serve the next one."""
    cursor.execute("DELETE FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, ticket))
    cursor.execute(
        "UPDATE conversations SET serving = serving + 1, serving_until = ?, serving_owner = NULL WHERE id = ? AND serving = ?",
        (time.time() + grace_s, conversation_id, ticket),
    )


def release_ticket(cursor: Cursor, conversation_id: str, ticket: int) -> None:
    """Forget `ticket`'s owner; the caller advances `serving` in its own update."""
    cursor.execute("DELETE FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, ticket))


def _skip_freed(cursor: Cursor, conversation_id: str, grace_s: float) -> None:
    """Serve the oldest ticket that still has an owner (or the next one to be taken)."""
    cursor.execute(
        "UPDATE conversations SET serving_until = ?, serving_owner = NULL, serving = COALESCE("
        "(SELECT MIN(ticket) FROM tickets WHERE conversation_id = ? AND ticket >= conversations.serving), next_ticket) "
        "WHERE id = ?",
        (time.time() + grace_s, conversation_id, conversation_id),
    )


def abandon(cursor: Cursor, is_dead: Callable[[str], bool], grace_s: float) -> int:
    """Free every ticket, served or waiting, of owners known to be dead (a crashed process
    on this host), all at once; returns how many conversations were freed."""
    cursor.execute("SELECT DISTINCT owner FROM tickets")
    dead = [owner for (owner,) in cursor.fetchall() if is_dead(owner)]
    freed: set[str] = set()
    for owner in dead:
        cursor.execute("DELETE FROM tickets WHERE owner = ? RETURNING conversation_id", (owner,))
        freed.update(conversation_id for (conversation_id,) in cursor.fetchall())
    for conversation_id in sorted(freed):
        _skip_freed(cursor, conversation_id, grace_s)
    return len(freed)
