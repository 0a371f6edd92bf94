"""The store, once, in SQL that SQLite and PostgreSQL both run.

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
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from .records import (
    ConversationRow,
    HandoffRecord,
    IllegalTransition,
    MessageRow,
    NewMessage,
    OutboxRow,
    StoreError,
    UnknownConversation,
)
from .schema import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, NEVER, MIGRATIONS

__all__ = ["Cursor", "Dialect", "SqlStore", "utc_now"]

T = TypeVar("T")

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


def _conversation(row: Sequence[Any]) -> ConversationRow:
    values = dict(zip(_CONVERSATION_FIELDS, row, strict=True))
    values["metadata"] = json.loads(values["metadata"] or "{}")
    return ConversationRow(**values)


def _message(row: Sequence[Any]) -> MessageRow:
    values = dict(zip(_MESSAGE_FIELDS, row, strict=True))
    values["decision"] = json.loads(values["decision"]) if values["decision"] else None
    values["withheld"] = bool(values["withheld"])
    return MessageRow(**values)


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
            raise StoreError(f"the database schema is version {current}; this supportbot knows up to {len(MIGRATIONS)} (upgrade supportbot)")
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
            return self._get(cursor, conversation_id)

        return await self._run(create)

    def _get(self, cursor: Cursor, conversation_id: str) -> ConversationRow:
        cursor.execute(f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
        row = cursor.fetchone()
        if row is None:
            raise UnknownConversation(conversation_id)
        return _conversation(row)

    async def get_conversation(self, conversation_id: str) -> ConversationRow | None:
        def get(cursor: Cursor) -> ConversationRow | None:
            try:
                return self._get(cursor, conversation_id)
            except UnknownConversation:
                return None

        return await self._run(get)

    async def messages(self, conversation_id: str, after_seq: int = 0) -> list[MessageRow]:
        return await self._run(lambda c: self._messages(c, conversation_id, after_seq))

    @staticmethod
    def _history(cursor: Cursor, conversation_id: str) -> list[MessageRow]:
        """The messages without their stored decisions: what a turn needs, cheaper to load."""
        cursor.execute(
            "SELECT conversation_id, seq, role, text, created_at, tokens, author, withheld FROM messages WHERE conversation_id = ? ORDER BY seq",
            (conversation_id,),
        )
        return [
            MessageRow(conversation_id=c, seq=q, role=r, text=t, created_at=at, tokens=n, author=a, withheld=bool(w))
            for c, q, r, t, at, n, a, w in cursor.fetchall()
        ]

    @staticmethod
    def _messages(cursor: Cursor, conversation_id: str, after_seq: int = 0) -> list[MessageRow]:
        cursor.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq",
            (conversation_id, after_seq),
        )
        return [_message(r) for r in cursor.fetchall()]

    async def customer_texts(self) -> Counter[str]:
        """How often each customer text is stored, all conversations (load tests count lost
        and duplicated turns with it)."""
        def count(cursor: Cursor) -> Counter[str]:
            cursor.execute("SELECT text FROM messages WHERE role = 'customer'")
            return Counter(row[0] for row in cursor.fetchall())

        return await self._run(count)

    # per-conversation queue: one turn at a time, in arrival order, across processes ------
    #
    # Each message takes a ticket; the turn whose ticket equals `serving` may run. Storing a
    # turn advances `serving` in the same transaction. A ticket whose owner died is skipped
    # once `serving_until` passes: the running turn's lease, or the grace period the next
    # ticket gets to claim its place.

    async def begin_turn(
        self, conversation_id: str, owner: str, lease_s: float, grace_s: float, *, create_for: str | None = None,
        bot_id: str | None = None, metadata: dict[str, Any] | None = None,
    ) -> tuple[int, str, ConversationRow | None, list[MessageRow]]:
        """Take a ticket and, when the queue is free, start serving it and load the
        conversation, all in one transaction: the common case costs one round trip.

        `create_for` creates the conversation first (a new one, for that bot); `bot_id`
        makes another bot's conversation count as unknown."""
        def begin(cursor: Cursor) -> tuple[int, str, ConversationRow | None, list[MessageRow]]:
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
            cursor.execute("INSERT INTO tickets (conversation_id, ticket, owner) VALUES (?, ?, ?)", (conversation_id, ticket, owner))
            status = self._status(cursor, conversation_id, ticket, serving, until, grace_s, now)
            if status != "serving":
                return ticket, status, None, []
            row = self._claim(cursor, conversation_id, ticket, owner, now + lease_s)
            return ticket, status, row, self._history(cursor, conversation_id)

        return await self._run(begin)

    async def try_serve(self, conversation_id: str, ticket: int, owner: str, lease_s: float, grace_s: float) -> tuple[str, ConversationRow | None, list[MessageRow]]:
        """("serving", the conversation, its messages) when this ticket may run now;
        else ("waiting" | "skipped", None, [])."""
        def attempt(cursor: Cursor) -> tuple[str, ConversationRow | None, list[MessageRow]]:
            now = time.time()
            cursor.execute("SELECT serving, serving_until FROM conversations WHERE id = ?", (conversation_id,))
            serving, until = cursor.fetchone()
            status = self._status(cursor, conversation_id, ticket, int(serving), float(until), grace_s, now)
            if status != "serving":
                return status, None, []
            return status, self._claim(cursor, conversation_id, ticket, owner, now + lease_s), self._history(cursor, conversation_id)

        return await self._run(attempt)

    def _status(self, cursor: Cursor, conversation_id: str, ticket: int, serving: int, until: float, grace_s: float, now: float) -> str:
        if serving == ticket:
            return "serving"
        if serving > ticket:
            return "skipped"
        if until < now:  # the ticket being served was abandoned
            self._advance(cursor, conversation_id, serving, grace_s)
        else:
            cursor.execute("SELECT 1 FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, serving))
            if cursor.fetchone() is None:  # its owner was found dead and its tickets freed
                self._skip_freed(cursor, conversation_id, grace_s)
        return "waiting"

    @staticmethod
    def _claim(cursor: Cursor, conversation_id: str, ticket: int, owner: str, until: float) -> ConversationRow:
        """Start serving `ticket`. A customer message to a closed conversation reopens it
        to the bot, as a helpdesk reopens a solved ticket: a new episode, counters reset."""
        cursor.execute(
            f"UPDATE conversations SET serving_until = ?, serving_owner = ?, "
            "state = CASE WHEN state = 'closed' THEN 'bot_active' ELSE state END, "
            "bot_turns = CASE WHEN state = 'closed' THEN 0 ELSE bot_turns END, "
            "unsure_streak = CASE WHEN state = 'closed' THEN 0 ELSE unsure_streak END, "
            "agent = CASE WHEN state = 'closed' THEN NULL ELSE agent END "
            f"WHERE id = ? AND serving = ? RETURNING {CONVERSATION_COLUMNS}",
            (until, owner, conversation_id, ticket),
        )
        return _conversation(cursor.fetchone())

    @staticmethod
    def _advance(cursor: Cursor, conversation_id: str, ticket: int, grace_s: float) -> None:
        cursor.execute("DELETE FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, ticket))
        cursor.execute(
            "UPDATE conversations SET serving = serving + 1, serving_until = ?, serving_owner = NULL WHERE id = ? AND serving = ?",
            (time.time() + grace_s, conversation_id, ticket),
        )

    @staticmethod
    def _skip_freed(cursor: Cursor, conversation_id: str, grace_s: float) -> None:
        """Serve the oldest ticket that still has an owner (or the next one to be taken)."""
        cursor.execute(
            "UPDATE conversations SET serving_until = ?, serving_owner = NULL, serving = COALESCE("
            "(SELECT MIN(ticket) FROM tickets WHERE conversation_id = ? AND ticket >= conversations.serving), next_ticket) "
            "WHERE id = ?",
            (time.time() + grace_s, conversation_id, conversation_id),
        )

    async def finish_ticket(self, conversation_id: str, ticket: int, grace_s: float) -> None:
        """Give up a ticket without storing a turn (the turn failed)."""
        await self._run(lambda c: self._advance(c, conversation_id, ticket, grace_s))

    async def abandon_tickets(self, is_dead: Callable[[str], bool], grace_s: float) -> int:
        """Free every ticket, served or waiting, of owners known to be dead (a crashed
        process on this host), all at once; returns how many conversations were freed."""
        def abandon(cursor: Cursor) -> int:
            cursor.execute("SELECT DISTINCT owner FROM tickets")
            dead = [owner for (owner,) in cursor.fetchall() if is_dead(owner)]
            freed: set[str] = set()
            for owner in dead:
                cursor.execute("DELETE FROM tickets WHERE owner = ? RETURNING conversation_id", (owner,))
                freed.update(conversation_id for (conversation_id,) in cursor.fetchall())
            for conversation_id in sorted(freed):
                self._skip_freed(cursor, conversation_id, grace_s)
            return len(freed)

        return await self._run(abandon)

    # writes -----------------------------------------------------------------------------

    @staticmethod
    def _append(cursor: Cursor, conversation_id: str, messages: Sequence[NewMessage], at: str | None = None) -> list[int]:
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
            values += [conversation_id, first + offset, m.role, m.text, now, m.tokens, m.author, decision, int(m.withheld)]
        placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(messages))
        cursor.execute(f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES {placeholders}", values)
        return list(range(first, first + len(messages)))

    async def save_turn(
        self,
        conversation_id: str,
        messages: Sequence[NewMessage],
        *,
        from_state: str,
        state: str,
        bot_turns: int,
        unsure_streak: int,
        handoff: HandoffRecord | None = None,
        webhook: dict[str, Any] | None = None,
        at: str | None = None,
        ticket: int | None = None,
        grace_s: float = 10.0,
    ) -> str:
        """Store a finished turn, atomically, with its webhook, and let the next ticket of
        the conversation run; returns the conversation's state afterwards.

        The turn's own changes (state, counters, hand-off) are a compare-and-set on
        `from_state`, the state the turn began in: if an agent moved the conversation
        meanwhile (claimed or closed it), the agent's move stands and the turn's messages
        are stored without them. `at` (default: now) stamps the messages and a hand-off."""
        now = at or utc_now()

        def save(cursor: Cursor) -> str:
            self._append(cursor, conversation_id, messages, now)
            # SET reads the old values, so each `state = ?` below tests the state the
            # turn began in, and `serving = ?` tests this ticket.
            sets = ["updated_at = ?", "bot_turns = CASE WHEN state = ? THEN ? ELSE bot_turns END",
                    "unsure_streak = CASE WHEN state = ? THEN ? ELSE unsure_streak END"]
            params: list[Any] = [now, from_state, bot_turns, from_state, unsure_streak]
            if state != from_state:
                sets.append("state = CASE WHEN state = ? THEN ? ELSE state END")
                params += [from_state, state]
            if handoff is not None:
                for column, value in (("handoff_rule", handoff.rule), ("handoff_reason", handoff.reason),
                                      ("handoff_detail", handoff.detail), ("handoff_at", now)):
                    sets.append(f"{column} = CASE WHEN state = ? THEN ? ELSE {column} END")
                    params += [from_state, value]
            if ticket is not None:
                cursor.execute("DELETE FROM tickets WHERE conversation_id = ? AND ticket = ?", (conversation_id, ticket))
                sets += [
                    "serving = CASE WHEN serving = ? THEN serving + 1 ELSE serving END",
                    "serving_until = CASE WHEN serving = ? THEN ? ELSE serving_until END",
                    "serving_owner = CASE WHEN serving = ? THEN NULL ELSE serving_owner END",
                ]
                params += [ticket, ticket, time.time() + grace_s, ticket]
            # RETURNING gives the new values: the turn's changes held when the state is its own.
            cursor.execute(f"UPDATE conversations SET {', '.join(sets)} WHERE id = ? RETURNING state", (*params, conversation_id))
            found = cursor.fetchone()
            if found is None:
                raise UnknownConversation(conversation_id)
            if webhook is not None and found[0] == state:
                cursor.execute("INSERT INTO outbox (payload, next_attempt_at) VALUES (?, ?)", (json.dumps(webhook), time.time()))
            return str(found[0])

        return await self._run(save)

    async def transition(
        self, conversation_id: str, allowed_from: Sequence[str], to_state: str, wanted: str, *, agent: str | None = None, resume: bool = False
    ) -> ConversationRow:
        """Move a conversation to `to_state`, or raise IllegalTransition naming its state."""
        def move(cursor: Cursor) -> ConversationRow:
            current = self._get(cursor, conversation_id)
            if current.state not in allowed_from:
                raise IllegalTransition(conversation_id, current.state, wanted)
            counters = ", bot_turns = 0, unsure_streak = 0" if resume else ""
            cursor.execute(
                f"UPDATE conversations SET state = ?, agent = COALESCE(?, agent), updated_at = ?{counters} WHERE id = ? AND state = ?",
                (to_state, agent, utc_now(), conversation_id, current.state),
            )
            if cursor.rowcount != 1:  # changed under us by another process: report the new state
                raise IllegalTransition(conversation_id, self._get(cursor, conversation_id).state, wanted)
            return self._get(cursor, conversation_id)

        return await self._run(move)

    async def add_agent_message(self, conversation_id: str, agent: str, text: str, tokens: int) -> MessageRow:
        def add(cursor: Cursor) -> MessageRow:
            current = self._get(cursor, conversation_id)
            if current.state != "agent_active":
                raise IllegalTransition(conversation_id, current.state, "send an agent message (claim the conversation first)")
            [seq] = self._append(cursor, conversation_id, [NewMessage("agent", text, tokens, agent)])
            cursor.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (utc_now(), conversation_id))
            cursor.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?", (conversation_id, seq))
            return _message(cursor.fetchone())

        return await self._run(add)

    async def handoffs(self, state: str, limit: int = 100, after: tuple[str, str, str] | None = None) -> list[ConversationRow]:
        """Conversations in `state`, the longest waiting first: a page of `limit`, after the
        conversation whose (handoff_at or "", created_at, id) is `after`."""
        order = "COALESCE(handoff_at, ''), created_at, id"
        after_clause = f"AND ({order}) > (?, ?, ?) " if after else ""

        def fetch(cursor: Cursor) -> list[ConversationRow]:
            cursor.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE state = ? {after_clause}ORDER BY {order} LIMIT ?",
                (state, *(after or ()), limit),
            )
            return [_conversation(r) for r in cursor.fetchall()]

        return await self._run(fetch)

    # webhook outbox -----------------------------------------------------------------------

    async def due_webhooks(self, limit: int, lease_seconds: float) -> list[OutboxRow]:
        """Claim undelivered webhooks that are due, so no other process sends them meanwhile."""
        def claim(cursor: Cursor) -> list[OutboxRow]:
            now = time.time()
            cursor.execute(
                "SELECT id, payload, attempts FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? AND lease_until < ? ORDER BY id LIMIT ?",
                (now, now, limit),
            )
            claimed = []
            for row_id, payload, attempts in cursor.fetchall():
                cursor.execute("UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_until < ?", (now + lease_seconds, row_id, now))
                if cursor.rowcount == 1:
                    claimed.append(OutboxRow(int(row_id), json.loads(payload), int(attempts)))
            return claimed

        return await self._run(claim)

    async def webhook_delivered(self, row_id: int) -> None:
        await self._run(lambda c: c.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?", (utc_now(), row_id)))

    async def webhook_failed(self, row_id: int, retry_in: float | None, error: str) -> None:
        """Record a failed attempt; retry_in None gives up (the row stays, undelivered, for inspection)."""
        next_at = time.time() + retry_in if retry_in is not None else NEVER
        await self._run(
            lambda c: c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = 0, last_error = ? WHERE id = ?",
                (next_at, error[:500], row_id),
            )
        )

    async def webhook_rows(self) -> list[tuple[int, int, str | None]]:
        """(id, attempts, delivered_at) of every webhook, for tests and operations."""
        def rows(cursor: Cursor) -> list[tuple[int, int, str | None]]:
            cursor.execute("SELECT id, attempts, delivered_at FROM outbox ORDER BY id")
            return [(int(a), int(b), c) for a, b, c in cursor.fetchall()]

        return await self._run(rows)

