"""SQLite: the default store, one file in WAL mode.

WAL lets readers work while a writer commits, and a committed transaction survives the
process being killed (synchronous=NORMAL only risks the last commits on power loss).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .rows import Cursor

__all__ = ["SqliteDialect"]


class SqliteDialect:
    name = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    threads = 1  # one connection, used from one thread: SQLite serialises writers anyway

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=30000")
            self._connection = connection
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            connection = self._connect()
            cursor = connection.cursor()
            # IMMEDIATE takes the write lock up front, so two processes sharing the file
            # wait for each other instead of failing half way through.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            else:
                connection.execute("COMMIT")
            finally:
                cursor.close()

    def migration_lock(self, cursor: Cursor) -> None:
        return None  # BEGIN IMMEDIATE already excludes other writers

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
