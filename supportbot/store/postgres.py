"""PostgreSQL: the store for several `supportbot serve` processes sharing state."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .rows import Cursor

__all__ = ["PostgresDialect"]

_MIGRATION_LOCK = 7_361_525  # any constant: one advisory lock for schema migrations


class _Cursor:
    """psycopg speaks %s; the shared SQL is written with ?."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


class PostgresDialect:
    name = "postgresql"
    serial = "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise RuntimeError("PostgreSQL needs the postgres extra: pip install 'supportbot[postgres]'") from exc
        self.threads = pool_size
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True, timeout=30)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            yield _Cursor(cursor)

    def migration_lock(self, cursor: Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def close(self) -> None:
        self._pool.close()
