"""Point reads on SQLite: one long-lived plain connection per thread, no pool, no checkout."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from catalog_ingest.errors import TransientError


class PointReaders:
    """One long-lived SQLite connection per thread for `Database.query`'s point lookups.

    Through the pool, 16 concurrent status polls on 40 request threads overflowed its 8
    connections, so most lookups opened a connection (and ran its PRAGMAs) and closed it
    again: over half a poll's cost. A connection per thread is never shared, so it needs no
    checkout; each SELECT in autocommit mode is its own consistent snapshot (WAL readers
    never wait for the writer)."""

    def __init__(self, database: str | None, cache_kib: int) -> None:
        self.database = database or ""
        #: An in-memory database is one per connection: those keep to the pool.
        self.usable = bool(database) and database != ":memory:" and not self.database.startswith(
            "file:")
        self.cache_kib = cache_kib
        self._local = threading.local()
        #: Weak, so a connection goes (closed) with its thread: the request thread pool lets
        #: idle threads exit, and new ones start under the next load.
        self._open: weakref.WeakSet[_Connection] = weakref.WeakSet()

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn: _Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._connect()
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            self._forget(conn)
            raise TransientError("database unavailable") from exc

    def _connect(self) -> _Connection:
        conn = sqlite3.connect(self.database, timeout=60, isolation_level=None,
                               check_same_thread=False, factory=_Connection)
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute(f"PRAGMA cache_size=-{self.cache_kib}")
        self._local.conn = conn
        self._open.add(conn)
        return conn

    def _forget(self, conn: _Connection | None) -> None:
        self._local.conn = None
        if conn is not None:
            self._open.discard(conn)
            conn.close()

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()


class _Connection(sqlite3.Connection):
    """A plain sqlite3 connection that can be weakly referenced."""
