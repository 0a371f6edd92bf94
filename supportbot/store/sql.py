"""The store, once, in SQL that SQLite and PostgreSQL both run (the Store protocol, base.py).

Each operation is a plain function over a DB-API cursor, run inside one transaction on a
worker thread (sqlite3 and psycopg's pool are both synchronous), so the two databases share
every query and migration. The dialect supplies connections, placeholders and two types.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import activity, outbox, rows, tickets
from .records import (
    ConversationActivity,
    ConversationRow,
    ConversationState,
    Feedback,
    HandoffRecord,
    IllegalTransition,
    MessageRow,
    NewMessage,
    OutboxRow,
    StoreError,
    UnknownConversation,
)
from .rows import Cursor, Dialect, utc_now
from .schema import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, MIGRATIONS, NEVER

__all__ = ["Cursor", "Dialect", "SqlStore", "utc_now"]

T = TypeVar("T")


class SqlStore:
    """Async store over a synchronous dialect; every public method is one transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._executor = ThreadPoolExecutor(max_workers=dialect.threads, thread_name_prefix=f"store-{dialect.name}")

    async def _run(self, operation: Callable[[Cursor], T]) -> T:
        def in_transaction() -> T:
            with self.dialect.transaction() as cursor:
                return operation(cursor)

        return await asyncio.get_running_loop().run_in_executor(self._executor, in_transaction)

    # lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._migrate)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.dialect.close)
        self._executor.shutdown(wait=True)

    async def ping(self) -> bool:
        try:
            return await self._run(lambda c: c.execute("SELECT 1") and c.fetchone()[0] == 1)
        except Exception:
            return False

    def _migrate(self, cursor: Cursor) -> None:
        self.dialect.migration_lock(cursor)
        cursor.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        cursor.execute("SELECT MAX(version) FROM schema_version")
        current = cursor.fetchone()[0] or 0
        if current > len(MIGRATIONS):
            raise StoreError(
                f"the database schema is version {current}; this supportbot knows up to {len(MIGRATIONS)} (upgrade supportbot)"
            )
        for version, statements in enumerate(MIGRATIONS[current:], current + 1):
            for statement in statements:
                cursor.execute(statement.replace("{serial}", self.dialect.serial))
            cursor.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    async def schema_version(self) -> int:
        return await self._run(lambda c: c.execute("SELECT MAX(version) FROM schema_version") and c.fetchone()[0])

    # conversations ---------------------------------------------------------------------------

    async def create_conversation(self, conversation_id: str, bot_id: str, metadata: dict[str, Any]) -> ConversationRow:
        now = utc_now()

        def create(cursor: Cursor) -> ConversationRow:
            cursor.execute(
                "INSERT INTO conversations (id, bot_id, state, created_at, updated_at, metadata) VALUES (?, ?, 'bot_active', ?, ?, ?)",
                (conversation_id, bot_id, now, now, json.dumps(metadata)),
            )
            return rows.get(cursor, conversation_id)

        return await self._run(create)

    async def get_conversation(self, conversation_id: str) -> ConversationRow | None:
        def get(cursor: Cursor) -> ConversationRow | None:
            try:
                return rows.get(cursor, conversation_id)
            except UnknownConversation:
                return None

        return await self._run(get)

    async def messages(self, conversation_id: str, after_seq: int = 0) -> list[MessageRow]:
        return await self._run(lambda c: rows.messages(c, conversation_id, after_seq))

    async def customer_texts(self) -> Counter[str]:
        """How often each customer text is stored, all conversations (load tests count lost
        and duplicated turns with it)."""

        def count(cursor: Cursor) -> Counter[str]:
            cursor.execute("SELECT text FROM messages WHERE role = 'customer'")
            return Counter(row[0] for row in cursor.fetchall())

        return await self._run(count)

    # the per-conversation queue (tickets.py) -----------------------------------------------

    async def begin_turn(
        self,
        conversation_id: str,
        owner: str,
        lease_s: float,
        grace_s: float,
        *,
        create_for: str | None = None,
        bot_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[int, str, ConversationRow | None, list[MessageRow]]:
        return await self._run(
            lambda c: tickets.begin(
                c, conversation_id, owner, lease_s, grace_s, create_for=create_for, bot_id=bot_id, metadata=metadata
            )
        )

    async def try_serve(
        self, conversation_id: str, ticket: int, owner: str, lease_s: float, grace_s: float
    ) -> tuple[str, ConversationRow | None, list[MessageRow]]:
        return await self._run(lambda c: tickets.try_serve(c, conversation_id, ticket, owner, lease_s, grace_s))

    async def finish_ticket(self, conversation_id: str, ticket: int, grace_s: float) -> None:
        await self._run(lambda c: tickets.advance(c, conversation_id, ticket, grace_s))

    async def abandon_tickets(self, is_dead: Callable[[str], bool], grace_s: float) -> int:
        return await self._run(lambda c: tickets.abandon(c, is_dead, grace_s))

    # writes -----------------------------------------------------------------------------

    @staticmethod
    def _append(
        cursor: Cursor, conversation_id: str, messages: Sequence[NewMessage], at: str | None = None
    ) -> list[int]:
        cursor.execute(
            "UPDATE conversations SET next_seq = next_seq + ? WHERE id = ? RETURNING next_seq",
            (len(messages), conversation_id),
        )
        row = cursor.fetchone()
        if row is None:
            raise UnknownConversation(conversation_id)
        first = row[0] - len(messages)
        now = at or utc_now()
        values: list[Any] = []
        for offset, m in enumerate(messages):
            decision = json.dumps(m.decision) if m.decision else None
            values += [
                conversation_id,
                first + offset,
                m.role,
                m.text,
                now,
                m.tokens,
                m.author,
                decision,
                int(m.withheld),
            ]
        placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(messages))
        cursor.execute(f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES {placeholders}", values)
        return list(range(first, first + len(messages)))

    async def save_turn(
        self, conversation_id: str, messages: Sequence[NewMessage], *, from_state: ConversationState,
        state: ConversationState, bot_turns: int, unsure_streak: int, handoff: HandoffRecord | None = None,
        webhook: dict[str, Any] | None = None,
        at: str | None = None, ticket: int | None = None, grace_s: float = 10.0,
        clarifying: list[dict[str, str]] | None = None,
    ) -> tuple[ConversationState, list[int]]:  # fmt: skip
        """Store a finished turn, atomically, with its webhook, and let the next ticket of
        the conversation run; returns the conversation's state afterwards and the seqs of
        the messages stored. The turn's own changes are a compare-and-set on `from_state`
        (base.py); `at` (default: now) stamps the messages and a hand-off."""
        now = at or utc_now()
        offered = clarifying or []

        def save(cursor: Cursor) -> tuple[ConversationState, list[int]]:
            seqs = self._append(cursor, conversation_id, messages, now)
            sets, params = _turn_changes(from_state, state, bot_turns, unsure_streak, handoff, now, offered)
            if ticket is not None:  # serve the next ticket in the same update
                tickets.release_ticket(cursor, conversation_id, ticket)
                sets += [
                    "serving = CASE WHEN serving = ? THEN serving + 1 ELSE serving END",
                    "serving_until = CASE WHEN serving = ? THEN ? ELSE serving_until END",
                    "serving_owner = CASE WHEN serving = ? THEN NULL ELSE serving_owner END",
                ]
                params += [ticket, ticket, time.time() + grace_s, ticket]
            # RETURNING gives the new values: the turn's changes held when the state is its own.
            cursor.execute(
                f"UPDATE conversations SET {', '.join(sets)} WHERE id = ? RETURNING state", (*params, conversation_id)
            )
            found = cursor.fetchone()
            if found is None:
                raise UnknownConversation(conversation_id)
            if webhook is not None and found[0] == state:
                cursor.execute(
                    "INSERT INTO outbox (payload, next_attempt_at, conversation_id) VALUES (?, ?, ?)",
                    (json.dumps(webhook), time.time(), conversation_id),
                )
            return ConversationState(found[0]), seqs

        return await self._run(save)

    async def transition(
        self,
        conversation_id: str,
        allowed_from: Sequence[ConversationState],
        to_state: ConversationState,
        wanted: str,
        *,
        agent: str | None = None,
        resume: bool = False,
    ) -> ConversationRow:
        """Move a conversation to `to_state`, or raise IllegalTransition naming its state."""

        def move(cursor: Cursor) -> ConversationRow:
            current = rows.get(cursor, conversation_id)
            if current.state not in allowed_from:
                raise IllegalTransition(conversation_id, current.state, wanted)
            counters = ", bot_turns = 0, unsure_streak = 0" if resume else ""
            cursor.execute(
                f"UPDATE conversations SET state = ?, agent = COALESCE(?, agent), updated_at = ?{counters} WHERE id = ? AND state = ?",
                (to_state, agent, utc_now(), conversation_id, current.state),
            )
            if cursor.rowcount != 1:  # changed under us by another process: report the new state
                raise IllegalTransition(conversation_id, rows.get(cursor, conversation_id).state, wanted)
            return rows.get(cursor, conversation_id)

        return await self._run(move)

    async def add_agent_message(self, conversation_id: str, agent: str, text: str, tokens: int) -> MessageRow:
        def add(cursor: Cursor) -> MessageRow:
            current = rows.get(cursor, conversation_id)
            if current.state != "agent_active":
                raise IllegalTransition(
                    conversation_id, current.state, "send an agent message (claim the conversation first)"
                )
            [seq] = self._append(cursor, conversation_id, [NewMessage("agent", text, tokens, agent)])
            cursor.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (utc_now(), conversation_id))
            cursor.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?", (conversation_id, seq)
            )
            return rows.message(cursor.fetchone())

        return await self._run(add)

    async def handoffs(
        self, state: str, limit: int = 100, after: tuple[str, str, str] | None = None
    ) -> list[ConversationRow]:
        """Conversations in `state`, the longest waiting first: a page of `limit`, after the
        conversation whose (handoff_at or "", created_at, id) is `after`."""
        order = "COALESCE(handoff_at, ''), created_at, id"
        after_clause = f"AND ({order}) > (?, ?, ?) " if after else ""

        def fetch(cursor: Cursor) -> list[ConversationRow]:
            cursor.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE state = ? {after_clause}ORDER BY {order} LIMIT ?",
                (state, *(after or ()), limit),
            )
            return [rows.conversation(r) for r in cursor.fetchall()]

        return await self._run(fetch)

    # feedback and what happened (activity.py) ------------------------------------------------

    async def rate(self, conversation_id: str, seq: int, rating: str, comment: str | None = None) -> Feedback:
        return await self._run(lambda c: activity.rate(c, conversation_id, seq, rating, comment))

    async def feedback(self, conversation_id: str) -> dict[int, Feedback]:
        return await self._run(lambda c: activity.feedback(c, conversation_id))

    async def activity(self, bot_id: str | None = None, since: str | None = None) -> list[ConversationActivity]:
        return await self._run(lambda c: activity.read(c, bot_id, since))

    # retention ------------------------------------------------------------------------------

    async def delete_conversations(self, conversation_ids: Sequence[str]) -> int:
        """Remove conversations with their messages (decisions included), tickets and webhook
        rows; returns how many conversations there were."""
        return await self._run(lambda cursor: activity.delete(cursor, list(conversation_ids)))

    async def purge(self, before: str) -> int:
        """Remove every conversation last changed before `before` (UTC, ISO 8601), as above."""

        def purge(cursor: Cursor) -> int:
            cursor.execute("SELECT id FROM conversations WHERE updated_at < ?", (before,))
            return activity.delete(cursor, [found[0] for found in cursor.fetchall()])

        return await self._run(purge)

    # webhook outbox -----------------------------------------------------------------------

    async def due_webhooks(self, limit: int, lease_seconds: float, channel: str | None = None) -> list[OutboxRow]:
        """Claim due, undelivered rows (webhooks, or `channel`'s calls), so no other process
        sends them meanwhile."""
        return await self._run(lambda c: outbox.claim_due(c, limit, lease_seconds, channel))

    async def enqueue(self, channel: str, conversation_id: str, payloads: Sequence[dict[str, Any]]) -> None:
        await self._run(lambda c: outbox.enqueue(c, channel, conversation_id, payloads))

    async def first_delivery(self, channel: str, event_id: str) -> bool:
        return await self._run(lambda c: outbox.first_delivery(c, channel, event_id))

    async def undelivered(self, channel: str, conversation_id: str) -> int:
        return await self._run(lambda c: outbox.undelivered(c, channel, conversation_id))

    async def webhook_delivered(self, row_id: int) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?", (utc_now(), row_id)
            )
        )

    async def webhook_failed(self, row_id: int, retry_in: float | None, error: str) -> None:
        """Record a failed attempt; retry_in None gives up (the row stays, undelivered, for inspection)."""
        next_at = time.time() + retry_in if retry_in is not None else NEVER
        await self._run(
            lambda c: c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0, last_error = ? WHERE id = ?",
                (next_at, error[:500], row_id),
            )
        )

    async def outbox(self) -> list[OutboxRow]:
        def rows(cursor: Cursor) -> list[OutboxRow]:
            cursor.execute("SELECT id, payload, attempts, delivered_at, last_error FROM outbox ORDER BY id")
            return [OutboxRow(int(i), json.loads(p), int(a), d, e) for i, p, a, d, e in cursor.fetchall()]

        return await self._run(rows)


def _turn_changes(
    from_state: ConversationState,
    state: ConversationState,
    bot_turns: int,
    unsure_streak: int,
    handoff: HandoffRecord | None,
    now: str,
    clarifying: list[dict[str, str]],
) -> tuple[list[str], list[Any]]:
    """The SET clauses of a turn's own changes, each a compare-and-set on `from_state`
    (SET reads the old values, so `state = ?` tests the state the turn began in)."""
    sets = [
        "updated_at = ?",
        "bot_turns = CASE WHEN state = ? THEN ? ELSE bot_turns END",
        "unsure_streak = CASE WHEN state = ? THEN ? ELSE unsure_streak END",
        "clarifying = CASE WHEN state = ? THEN ? ELSE clarifying END",
    ]
    params: list[Any] = [now, from_state, bot_turns, from_state, unsure_streak, from_state, json.dumps(clarifying)]
    if state != from_state:
        sets.append("state = CASE WHEN state = ? THEN ? ELSE state END")
        params += [from_state, state]
    if handoff is not None:
        for column, value in (
            ("handoff_rule", handoff.rule),
            ("handoff_reason", handoff.reason),
            ("handoff_detail", handoff.detail),
            ("handoff_at", now),
        ):
            sets.append(f"{column} = CASE WHEN state = ? THEN ? ELSE {column} END")
            params += [from_state, value]
    return sets, params
