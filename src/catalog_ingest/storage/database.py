"""Database access: one engine per URL, read and write transactions, SQLite's single writer."""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from catalog_ingest.errors import TransientError
from catalog_ingest.storage.inbox import Inbox, drain_inbox, inbox_path
from catalog_ingest.storage.point_reads import PointReaders

log = logging.getLogger(__name__)

_AFTER_COMMIT = "catalog_ingest_after_commit"
#: How long a SQLite connection waits for another process's lock before SQLITE_BUSY.
BUSY_TIMEOUT_MS = 60_000


def normalize_url(url: str) -> str:
    """Use psycopg 3 for every postgresql:// URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """An engine plus the transaction discipline this project relies on.

    SQLite: WAL journal, synchronous=FULL (a commit is on disk before the 201). All writes go
    through one writer connection (its own engine, pool of one, behind an in-process lock) and
    begin IMMEDIATE, so writers queue instead of failing on a lock upgrade; only the writer
    keeps a large page cache, so memory is bounded whatever the number of readers.
    PostgreSQL: one pool, plain READ COMMITTED transactions.
    """

    #: 32 MiB: with the worker in its own process, its writer's cache warming up with a
    #: growing catalog was the only growth of `bench memory` at 64 MiB (+11-14%, flat at
    #: 8-32 MiB); 201 → DONE measured ~7% slower than at 64 MiB, within its target.
    WRITER_CACHE_KIB = 32_768
    READER_CACHE_KIB = 4_096

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self.inbox: Inbox | None = None
        if self.is_sqlite:
            self.engine = self._sqlite_engine(pool_size, self.READER_CACHE_KIB, immediate=False)
            self.write_engine = self._sqlite_engine(1, self.WRITER_CACHE_KIB, immediate=True)
            self.inbox = Inbox(inbox_path(self.engine.url.database))
            self._point_readers = PointReaders(self.engine.url.database, self.READER_CACHE_KIB)
        else:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=8,
                                        pool_pre_ping=True)
            self.write_engine = self.engine

    def _sqlite_engine(self, pool_size: int, cache_kib: int, *, immediate: bool) -> Engine:
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": 60, "isolation_level": None},
            pool_size=pool_size,
            max_overflow=0 if immediate else 8,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute(f"PRAGMA cache_size=-{cache_kib}")
            cur.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success, rolled back on any exception.

        On SQLite it first moves the uploads waiting in the intake inbox into `uploads`
        (storage/inbox.py), so every write sees every accepted upload, in acceptance order.
        Callbacks queued with `after_commit(conn, fn)` run once the commit succeeded (the
        upload state-change log lines: a rolled-back change is never logged).
        """
        pending: list[Callable[[], None]] = []
        with translate_errors():
            if self.is_sqlite:
                with self._write_lock:
                    yield from self._sqlite_write(pending)
            else:
                with self.engine.begin() as conn:
                    yield from _with_pending(conn, pending)
        for callback in pending:
            callback()

    def flush_inbox(self) -> None:
        """Move the uploads waiting in the SQLite intake inbox into `uploads` now, so that a
        clean stop leaves none waiting there (every write does the same first)."""
        if self.inbox is not None:
            with self.write():
                pass

    @contextmanager
    def write_if_free(self) -> Iterator[Connection | None]:
        """`write`, or None at once when the SQLite writer is busy, in this process or in
        another one (a `worker` beside `serve`): the caller then stores elsewhere instead of
        waiting. PostgreSQL always writes."""
        if not self.is_sqlite:
            with self.write() as conn:
                yield conn
            return
        if not self._write_lock.acquire(blocking=False):
            yield None
            return
        pending: list[Callable[[], None]] = []
        try:
            with translate_errors():
                begun = self._begin_if_free()
                if begun is None:
                    yield None
                else:
                    yield from self._sqlite_write(pending, begun)
        finally:
            self._write_lock.release()
        for callback in pending:
            callback()

    def _begin_if_free(self) -> tuple[Connection, RootTransaction] | None:
        """BEGIN IMMEDIATE on the writer without waiting for another process's write lock."""
        conn = self.write_engine.connect()
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout=0")
        try:
            try:
                transaction = conn.begin()
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except OperationalError as exc:
            conn.close()
            if _is_busy(exc):
                return None
            raise
        return conn, transaction

    def _sqlite_write(self, pending: list[Callable[[], None]],
                      begun: tuple[Connection, RootTransaction] | None = None
                      ) -> Iterator[Connection]:
        assert self.inbox is not None
        if begun is None:
            conn = self.write_engine.connect()
            begun = (conn, conn.begin())
        conn, transaction = begun
        with conn, transaction:
            moved = drain_inbox(self.inbox, conn)
            yield from _with_pending(conn, pending)
        try:
            self.inbox.forget(moved)  # only once the move has committed
        except TransientError as exc:
            # The write has committed, so it succeeded: the moved rows stay in both files,
            # and the next drain skips them and forgets them (as after a crash).
            log.warning("intake inbox: moved uploads not yet forgotten: %s", exc)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases)."""
        with translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement (`?` placeholders) on a pooled DBAPI connection.

        For the per-request point lookups (access key, upload status): a single statement is
        its own consistent snapshot on both databases, and skipping SQLAlchemy's transaction
        and statement machinery makes them ~10x cheaper, so they need no cache (a revoked key
        fails at once).
        """
        if self.is_sqlite and self._point_readers.usable:
            return self._point_readers.query(sql, params)
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        dbapi_error = self.engine.dialect.loaded_dbapi.OperationalError
        with translate_errors():
            try:
                conn = self.engine.raw_connection()
            except dbapi_error as exc:  # the pool's connect is not wrapped by SQLAlchemy
                raise TransientError("database unavailable") from exc
            try:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, params)
                    rows = [tuple(r) for r in cursor.fetchall()]
                finally:
                    cursor.close()
                if not self.is_sqlite:
                    conn.rollback()  # end the implicit transaction before the pool takes it back
            except dbapi_error as exc:
                conn.invalidate()
                raise TransientError("database unavailable") from exc
            finally:
                conn.close()
        return rows

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        if self.inbox is not None:
            self.inbox.close()
            self._point_readers.close()
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()


def _with_pending(conn: Connection, pending: list[Callable[[], None]]) -> Iterator[Connection]:
    # The dict itself, not `conn.info` again at the end: on a connection lost mid-transaction
    # (PostgreSQL stopping) that raises PendingRollbackError, which hid the OperationalError
    # that is the retry-recommended 500.
    info = conn.info
    info[_AFTER_COMMIT] = pending
    try:
        yield conn
    finally:
        info.pop(_AFTER_COMMIT, None)


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` after `conn`'s write transaction commits (at once outside `write`)."""
    pending = conn.info.get(_AFTER_COMMIT)
    if pending is None:
        callback()
    else:
        pending.append(callback)


def _is_busy(exc: OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (SQLITE_BUSY)."""
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def _driver_operational_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own OperationalError classes: the hot path's DBAPI cursors
    (storage/catalog.py, the inbox move) raise them unwrapped by SQLAlchemy. psycopg's only
    once SQLAlchemy has loaded it: a SQLite deployment never pays for importing it."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (sqlite3.OperationalError,)
    return (sqlite3.OperationalError, psycopg.OperationalError)


@contextmanager
def translate_errors() -> Iterator[None]:  # also for callers of Database.query
    """Connection-level database failures become TransientError (the "please retry" 500, and
    no attempt counted against an upload being processed): a full disk, an I/O error, a lost
    connection, whether SQLAlchemy wrapped them or a DBAPI cursor raised them directly."""
    try:
        yield
    except OperationalError as exc:
        raise TransientError("database unavailable") from exc
    except _driver_operational_errors() as exc:  # evaluated only when something is raised
        raise TransientError(f"database unavailable: {exc}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise TransientError("database connection lost") from exc
        raise
