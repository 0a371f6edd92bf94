"""Conversation storage: SQLite by default, PostgreSQL for several server processes."""

from __future__ import annotations

from .base import Store
from .records import (
    STATES,
    ConversationActivity,
    ConversationRow,
    ConversationState,
    Feedback,
    FeedbackRefused,
    HandoffRecord,
    IllegalTransition,
    MessageRow,
    NewMessage,
    OutboxRow,
    StoreError,
    UnknownConversation,
)
from .sql import SqlStore, utc_now

__all__ = [
    "STATES",
    "ConversationActivity",
    "ConversationRow",
    "ConversationState",
    "Feedback",
    "FeedbackRefused",
    "HandoffRecord",
    "IllegalTransition",
    "MessageRow",
    "NewMessage",
    "OutboxRow",
    "SqlStore",
    "Store",
    "StoreError",
    "UnknownConversation",
    "open_store",
    "utc_now",
]


def open_store(url: str) -> Store:
    """A store for `url`: sqlite:///path/to/file.db, sqlite:///:memory:, or postgresql://..."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresDialect

        return SqlStore(PostgresDialect(url))
    if url.startswith("sqlite:///"):
        from .sqlite import SqliteDialect

        return SqlStore(SqliteDialect(url.removeprefix("sqlite:///")))
    raise StoreError(f"unsupported database URL '{url}' (use sqlite:///path/file.db or postgresql://user@host/db)")
