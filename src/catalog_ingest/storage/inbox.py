"""SQLite's intake inbox: a small second database file where accepted uploads wait for the writer.

SQLite has one writer per file, and processing an upload holds the catalog's for a whole
transaction (hundreds of milliseconds at 10k items). So that a 201 never waits for it, an
upload accepted while the catalog writer is busy is committed durably (synchronous=FULL) to
this file instead, and moved into the `uploads` table by the next write transaction of any
kind (every `Database.write` on SQLite drains the inbox first, so claims, cancels and later
uploads all see the uploads in acceptance order).

The two files are not one atomic unit, so the move is idempotent: the rows are inserted into
`uploads` (skipping any ingestion id already there) in the catalog transaction, and deleted
from the inbox only after that transaction has committed. A crash in between leaves rows in
both, which the next drain skips and then deletes: every accepted upload is in at least one
of the two files at every instant, and in `uploads` at most once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from catalog_ingest.errors import TransientError
from catalog_ingest.storage.point_reads import PointReaders

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS inbox (n INTEGER PRIMARY KEY AUTOINCREMENT, "
    "ingestion_id TEXT NOT NULL UNIQUE, retailer_id TEXT NOT NULL, idempotency_key TEXT, "
    "row TEXT NOT NULL)"
)
#: The `uploads` columns an accepted upload sets (the rest take their queued defaults).
COLUMNS = ("ingestion_id", "retailer_id", "kind", "item_count", "store_ids", "payload_key",
           "idempotency_key", "request_hash", "submitted_at", "source", "batch_id")


class Inbox:
    """The inbox file beside the catalog database; thread-safe, shared by the whole process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Serialises this process's intake decisions (inbox or direct) and its inbox writes;
        #: other processes are serialised by SQLite's own lock on the file.
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                     timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        self._conn_lock = threading.Lock()
        #: For status polls, which may run on the event loop: never behind `_conn_lock`,
        #: which an accepted upload holds through its fsync.
        self._readers = PointReaders(str(path), cache_kib=1024)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._conn_lock, _sqlite_failures("intake inbox"):
            cursor = self._conn.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def _rollback(self, cur: sqlite3.Cursor) -> None:
        # SQLite itself ends the transaction on some failures (a full disk): a ROLLBACK then
        # would fail too and hide the error that explains the refusal.
        if self._conn.in_transaction:
            cur.execute("ROLLBACK")

    def put(self, values: dict[str, Any]) -> None:
        """Commit one accepted upload (its `uploads` values) durably."""
        row = json.dumps({c: values.get(c) for c in COLUMNS})
        with self._cursor() as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("INSERT INTO inbox (ingestion_id, retailer_id, idempotency_key, row) "
                            "VALUES (?, ?, ?, ?)", (values["ingestion_id"],
                                                    values["retailer_id"],
                                                    values["idempotency_key"], row))
                cur.execute("COMMIT")
            except BaseException:
                self._rollback(cur)
                raise

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        """The waiting uploads in acceptance order: (inbox number, `uploads` values)."""
        with self._cursor() as cur:
            rows = cur.execute("SELECT n, row FROM inbox ORDER BY n").fetchall()
        return [(n, json.loads(row)) for n, row in rows]

    def find(self, ingestion_id: str, retailer_id: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT row FROM inbox WHERE ingestion_id = ?"
        params: tuple[str, ...] = (ingestion_id,)
        if retailer_id is not None:
            sql, params = sql + " AND retailer_id = ?", (ingestion_id, retailer_id)
        with self._cursor() as cur:
            row = cur.execute(sql, params).fetchone()
        return json.loads(row[0]) if row else None

    def holds(self, ingestion_id: str, retailer_id: str) -> bool:
        """Whether the upload waits here (a point read on this thread's own connection)."""
        sql = "SELECT 1 FROM inbox WHERE ingestion_id = ? AND retailer_id = ?"
        if not self._readers.usable:
            return self.find(ingestion_id, retailer_id) is not None
        return bool(self._readers.query(sql, (ingestion_id, retailer_id)))

    def find_by_idempotency_key(self, retailer_id: str, key: str) -> dict[str, Any] | None:
        with self._cursor() as cur:
            row = cur.execute("SELECT row FROM inbox WHERE retailer_id = ? AND "
                              "idempotency_key = ?", (retailer_id, key)).fetchone()
        return json.loads(row[0]) if row else None

    def forget(self, numbers: list[int]) -> None:
        """Delete moved rows (after the transaction that moved them has committed)."""
        if not numbers:
            return
        with self._cursor() as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("DELETE FROM inbox WHERE n = ?", [(n,) for n in numbers])
                cur.execute("COMMIT")
            except BaseException:
                self._rollback(cur)
                raise

    def close(self) -> None:
        self._readers.close()
        self._conn.close()


@contextmanager
def _sqlite_failures(where: str) -> Iterator[None]:
    """SQLite's own failures of the file (disk full, I/O error, locked) become TransientError:
    the request gets the "please retry" 500 and nothing is acknowledged."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise TransientError(f"{where}: {exc}") from exc


def inbox_path(database: str | None) -> Path:
    """The inbox file beside the catalog's SQLite file (in memory beside an in-memory one)."""
    if not database or database == ":memory:":
        return Path(":memory:")
    path = Path(database)
    return path.with_name(f"{path.stem}-inbox{path.suffix or '.db'}")


def drain_inbox(inbox: Inbox, conn: Any) -> list[int]:
    """Move the waiting uploads into `uploads` within `conn`'s write transaction; the inbox
    numbers moved (the caller forgets them once that transaction has committed).

    An upload already in `uploads` (moved before a crash, not yet forgotten) is skipped. An
    expired use of the same Idempotency-Key gives the key up, as intake decided when it
    accepted the upload.
    """
    waiting = inbox.pending()
    if not waiting:
        return []
    marks = ", ".join("?" * len(COLUMNS))
    insert = (f"INSERT INTO uploads ({', '.join(COLUMNS)}, status, attempts) "
              f"VALUES ({marks}, 'INQUEUE', 0)")
    # Within `Database.write`: its translate_errors makes this cursor's failures transient.
    cursor = conn.connection.cursor()
    try:
        for _, values in waiting:
            cursor.execute("SELECT 1 FROM uploads WHERE ingestion_id = ?",
                           (values["ingestion_id"],))
            if cursor.fetchone() is not None:
                continue
            if values["idempotency_key"] is not None:
                cursor.execute("UPDATE uploads SET idempotency_key = NULL WHERE retailer_id = ? "
                               "AND idempotency_key = ?",
                               (values["retailer_id"], values["idempotency_key"]))
            cursor.execute(insert, tuple(values.get(c) for c in COLUMNS))
    finally:
        cursor.close()
    return [n for n, _ in waiting]
