"""The database schema: versioned migrations and the column lists queries share."""

from __future__ import annotations

__all__ = ["CONVERSATION_COLUMNS", "MESSAGE_COLUMNS", "MIGRATIONS", "NEVER"]

# Versioned schema. Append a new entry to change it; never edit a released one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            bot_id TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            bot_turns INTEGER NOT NULL DEFAULT 0,
            unsure_streak INTEGER NOT NULL DEFAULT 0,
            agent TEXT,
            handoff_rule TEXT,
            handoff_reason TEXT,
            handoff_at TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            next_seq INTEGER NOT NULL DEFAULT 1,
            next_ticket INTEGER NOT NULL DEFAULT 0,
            serving INTEGER NOT NULL DEFAULT 0,
            serving_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            serving_owner TEXT
        )""",
        "CREATE INDEX conversations_by_state ON conversations (state, handoff_at)",
        """CREATE TABLE messages (
            conversation_id TEXT NOT NULL REFERENCES conversations (id),
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            tokens INTEGER NOT NULL DEFAULT 0,
            author TEXT,
            decision TEXT,
            PRIMARY KEY (conversation_id, seq)
        )""",
        """CREATE TABLE outbox (
            id {serial},
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            delivered_at TEXT,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at)",
    ],
    [
        # Details of a hand-off for agents (a model server's error, the model's note);
        # handoff_reason stays the reason fit for a customer's client.
        "ALTER TABLE conversations ADD COLUMN handoff_detail TEXT",
        # A customer message a text rule caught (a card number): shown to agents, never
        # put in a later prompt.
        "ALTER TABLE messages ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0",
        # Who holds each ticket of a conversation's queue, so that all the tickets of a
        # process that died are freed at once when a server restarts.
        """CREATE TABLE tickets (
            conversation_id TEXT NOT NULL,
            ticket INTEGER NOT NULL,
            owner TEXT NOT NULL,
            PRIMARY KEY (conversation_id, ticket)
        )""",
        "CREATE INDEX tickets_by_owner ON tickets (owner)",
    ],
    [
        # The options of the clarification the bot just asked (JSON), if it did.
        "ALTER TABLE conversations ADD COLUMN clarifying TEXT",
    ],
    [
        # Retention: a conversation's webhook rows go with it, and old conversations are
        # found by when they last changed. Rows written before this carry no id (sql.py).
        "ALTER TABLE outbox ADD COLUMN conversation_id TEXT",
        "CREATE INDEX outbox_by_conversation ON outbox (conversation_id)",
        "CREATE INDEX conversations_by_updated ON conversations (updated_at)",
    ],
    [
        # Customer feedback: one rating per bot message, the latest kept.
        """CREATE TABLE feedback (
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            rating TEXT NOT NULL,
            comment TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        )""",
        "CREATE INDEX conversations_by_bot ON conversations (bot_id, updated_at)",
    ],
    [
        # Calls to a channel's platform (Chatwoot) go through the outbox too; NULL: a webhook.
        "ALTER TABLE outbox ADD COLUMN channel TEXT",
        # Events a channel already handled, so a redelivery is answered once.
        """CREATE TABLE channel_events (
            channel TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (channel, event_id)
        )""",
    ],
]

NEVER = 1e18  # a next_attempt_at that never comes: delivery given up
CONVERSATION_COLUMNS = (
    "id, bot_id, state, created_at, updated_at, bot_turns, unsure_streak, agent, "
    "handoff_rule, handoff_reason, handoff_at, metadata, handoff_detail, clarifying"
)
MESSAGE_COLUMNS = "conversation_id, seq, role, text, created_at, tokens, author, decision, withheld"
