"""Tracking every push, chunk, attempt and outcome (seed 003): one interface, two backends.

``TrackingBackend`` is what the push pipeline, the CLI and the Lambda handlers use;
``Tracking`` is the local SQLite backend of ``push``, and
``catalog_ingest.client.aws.dynamodb.DynamoTracking`` the DynamoDB one of the Lambda
integration. The SQLite database is one file, by default
``$XDG_DATA_HOME/catalog-ingest/tracking.db``. Each state change is committed before the next
network step, so a push killed at any moment can be resumed: a chunk is recorded (PLANNED)
before it is sent, and its ingestion id right after the 201.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import msgspec

from catalog_ingest.client.push.tracking_schema import SCHEMA_VERSION, SCRIPTS
from catalog_ingest.errors import CatalogIngestError

#: Push statuses. RUNNING (by ``pid``), INTERRUPTED, SUBMITTED (--no-wait) and INCOMPLETE
#: (some chunk failed) can be resumed; DONE and ABANDONED (superseded) cannot.
RESUMABLE = ("RUNNING", "INTERRUPTED", "SUBMITTED", "INCOMPLETE")
#: Chunk statuses after which nothing more happens to the chunk in this push.
SETTLED = ("DONE", "FATAL", "CANCELLED")
#: Chunk statuses of an upload the service accepted and has not ended yet.
OPEN = ("ACCEPTED", "INQUEUE", "INPROGRESS")


class TrackingError(CatalogIngestError):
    """The tracking database cannot be used (another version, unreadable, inconsistent)."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/catalog-ingest``, else ``~/.local/share/catalog-ingest``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "catalog-ingest"


def default_path() -> Path:
    env = os.environ.get("CATALOG_INGEST_TRACKING_DB")
    return Path(env) if env else default_data_dir() / "tracking.db"


@dataclass
class PushRecord:
    push_id: str
    endpoint: str
    source_key: str
    sources: list[dict[str, Any]]
    options: dict[str, Any]
    status: str
    started_at: float
    finished_at: float | None = None
    pid: int | None = None
    results_dir: str | None = None
    rows_read: int = 0
    rows_invalid: int = 0
    summary: dict[str, Any] | None = None


@dataclass
class ChunkRecord:
    push_id: str
    seq: int
    kind: str
    store_id: str | None
    fingerprint: str
    idempotency_key: str
    item_count: int
    first_row: str | None
    last_row: str | None
    status: str = "PLANNED"
    ingestion_id: str | None = None
    submitted_at: float | None = None
    completed_at: float | None = None
    report_path: str | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None


_JSON_COLUMNS = {"sources", "options", "summary"}
_PUSH_COLUMNS = [f.name for f in fields(PushRecord)]
_CHUNK_COLUMNS = [f.name for f in fields(ChunkRecord)]


def _encode(name: str, value: Any) -> Any:
    return json.dumps(value) if name in _JSON_COLUMNS and value is not None else value


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    return {k: json.loads(row[k]) if k in _JSON_COLUMNS and row[k] is not None else row[k]
            for k in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a mapping


@runtime_checkable
class TrackingBackend(Protocol):
    """Where a push records itself: pushes, chunks (uploads), attempts, and the delta hashes.

    Every method commits before it returns (a push killed right after may be resumed from
    what it recorded). Records are plain data (``PushRecord``, ``ChunkRecord``, attempt
    dicts with ``push_id, seq, at, outcome, http_status, request_id, message``)."""

    @property
    def path(self) -> Path | str:
        """Where the records are (a file, or a ``dynamodb://TABLE``), for messages."""
        ...

    def close(self) -> None: ...

    def create_push(self, push: PushRecord) -> None: ...

    def update_push(self, push_id: str, **changes: Any) -> None: ...

    def push(self, push_id: str) -> PushRecord | None: ...

    def pushes(self, limit: int = 20, endpoint: str | None = None,
               source_key: str | None = None) -> list[PushRecord]: ...

    def latest_resumable(self, endpoint: str | None = None, source_key: str | None = None
                         ) -> PushRecord | None: ...

    def add_chunk(self, chunk: ChunkRecord) -> None: ...

    def update_chunk(self, push_id: str, seq: int, **changes: Any) -> None: ...

    def chunk(self, push_id: str, seq: int) -> ChunkRecord | None: ...

    def chunks(self, push_id: str) -> list[ChunkRecord]: ...

    def find_ingestion(self, ingestion_id: str) -> tuple[PushRecord, ChunkRecord] | None: ...

    def open_uploads(self) -> list[ChunkRecord]:
        """Every chunk the service accepted that has not ended (status in ``OPEN``)."""
        ...

    def record_attempt(self, push_id: str, seq: int, outcome: str, http_status: int | None = None,
                       request_id: str | None = None, message: str | None = None) -> None: ...

    def attempts(self, push_id: str, seq: int | None = None) -> list[dict[str, Any]]: ...

    def known_hashes(self, endpoint: str, source_key: str, store_id: str,
                     skus: Sequence[str]) -> dict[str, bytes]: ...

    def known_items(self, endpoint: str, source_key: str) -> Iterator[tuple[str, str]]: ...

    def stage(self, push_id: str, rows: Iterable[tuple[str, str, bytes | None]]) -> None: ...

    def merge_staged(self, push_id: str, endpoint: str, source_key: str) -> None: ...


def supersede(tracking: TrackingBackend, endpoint: str, source_key: str, keep: str) -> list[str]:
    """Abandon the unfinished pushes of this source but `keep` (keeping what they learnt, their
    staged hashes); their ids. Written once over the interface, for every backend."""
    abandoned = []
    for push in tracking.pushes(1000, endpoint, source_key):
        if push.push_id != keep and push.status in RESUMABLE:
            tracking.merge_staged(push.push_id, endpoint, source_key)
            tracking.update_push(push.push_id, status="ABANDONED")
            abandoned.append(push.push_id)
    return abandoned


class Tracking:
    """The SQLite tracking database; safe to share between the threads of one push."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise TrackingError(f"{path}: cannot use the tracking database: {exc}") from exc
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version not in SCRIPTS:
            raise TrackingError(f"{self.path}: tracking schema version {version}; this "
                                f"catalog-ingest knows version {SCHEMA_VERSION}")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another push may have migrated meanwhile.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                for statement in SCRIPTS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --- pushes --------------------------------------------------------------------------------

    def create_push(self, push: PushRecord) -> None:
        columns = ", ".join(_PUSH_COLUMNS)
        marks = ", ".join("?" * len(_PUSH_COLUMNS))
        values = [_encode(c, getattr(push, c)) for c in _PUSH_COLUMNS]
        self._run(f"INSERT INTO pushes ({columns}) VALUES ({marks})", values)

    def update_push(self, push_id: str, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [_encode(k, v) for k, v in changes.items()]
        self._run(f"UPDATE pushes SET {sets} WHERE push_id = ?", [*values, push_id])

    def push(self, push_id: str) -> PushRecord | None:
        row = self._run("SELECT * FROM pushes WHERE push_id = ?", [push_id]).fetchone()
        return PushRecord(**_decode(row)) if row else None

    def pushes(self, limit: int = 20, endpoint: str | None = None,
               source_key: str | None = None) -> list[PushRecord]:
        """The newest pushes first, optionally of one source to one endpoint."""
        where, params = "", []
        if endpoint is not None and source_key is not None:
            where, params = "WHERE endpoint = ? AND source_key = ?", [endpoint, source_key]
        rows = self._run(f"SELECT * FROM pushes {where} ORDER BY started_at DESC, rowid DESC "
                         "LIMIT ?", [*params, limit]).fetchall()
        return [PushRecord(**_decode(r)) for r in rows]

    def latest_resumable(self, endpoint: str | None = None, source_key: str | None = None
                         ) -> PushRecord | None:
        """The newest push that can be resumed (of that source, when given)."""
        for push in self.pushes(200, endpoint, source_key):
            if push.status in RESUMABLE:
                return push
            if push.status == "DONE" and source_key is not None:
                return None  # an older unfinished push was superseded by a finished one
        return None

    # --- chunks --------------------------------------------------------------------------------

    def add_chunk(self, chunk: ChunkRecord) -> None:
        columns = ", ".join(_CHUNK_COLUMNS)
        marks = ", ".join("?" * len(_CHUNK_COLUMNS))
        values = [_encode(c, getattr(chunk, c)) for c in _CHUNK_COLUMNS]
        self._run(f"INSERT INTO chunks ({columns}) VALUES ({marks})", values)

    def update_chunk(self, push_id: str, seq: int, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [_encode(k, v) for k, v in changes.items()]
        self._run(f"UPDATE chunks SET {sets} WHERE push_id = ? AND seq = ?",
                  [*values, push_id, seq])

    def chunk(self, push_id: str, seq: int) -> ChunkRecord | None:
        row = self._run("SELECT * FROM chunks WHERE push_id = ? AND seq = ?",
                        [push_id, seq]).fetchone()
        return ChunkRecord(**_decode(row)) if row else None

    def chunks(self, push_id: str) -> list[ChunkRecord]:
        rows = self._run("SELECT * FROM chunks WHERE push_id = ? ORDER BY seq",
                         [push_id]).fetchall()
        return [ChunkRecord(**_decode(r)) for r in rows]

    def find_ingestion(self, ingestion_id: str) -> tuple[PushRecord, ChunkRecord] | None:
        row = self._run("SELECT push_id, seq FROM chunks WHERE ingestion_id = ? "
                        "ORDER BY rowid DESC LIMIT 1", [ingestion_id]).fetchone()
        if row is None:
            return None
        push, chunk = self.push(row[0]), self.chunk(row[0], row[1])
        return (push, chunk) if push and chunk else None

    def open_uploads(self) -> list[ChunkRecord]:
        marks = ", ".join("?" * len(OPEN))
        rows = self._run(f"SELECT * FROM chunks WHERE status IN ({marks}) AND ingestion_id IS "
                         "NOT NULL ORDER BY submitted_at", OPEN).fetchall()
        return [ChunkRecord(**_decode(r)) for r in rows]

    def record_attempt(self, push_id: str, seq: int, outcome: str, http_status: int | None = None,
                       request_id: str | None = None, message: str | None = None) -> None:
        self._run("INSERT INTO attempts (push_id, seq, at, outcome, http_status, request_id, "
                  "message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [push_id, seq, time.time(), outcome, http_status, request_id, message])

    def attempts(self, push_id: str, seq: int | None = None) -> list[dict[str, Any]]:
        where = "push_id = ?" + ("" if seq is None else " AND seq = ?")
        params = [push_id] if seq is None else [push_id, seq]
        rows = self._run(f"SELECT * FROM attempts WHERE {where} ORDER BY id", params).fetchall()
        return [dict(r) for r in rows]

    # --- delta ---------------------------------------------------------------------------------

    def known_hashes(self, endpoint: str, source_key: str, store_id: str,
                     skus: Sequence[str]) -> dict[str, bytes]:
        """The content hash last accepted for each of ``skus`` of the store (if any)."""
        found: dict[str, bytes] = {}
        for start in range(0, len(skus), 500):
            part = skus[start:start + 500]
            marks = ", ".join("?" * len(part))
            rows = self._run(
                "SELECT item_sku, content_hash FROM item_hashes WHERE endpoint = ? AND "
                f"source_key = ? AND store_id = ? AND item_sku IN ({marks})",
                [endpoint, source_key, store_id, *part]).fetchall()
            found.update((r[0], r[1]) for r in rows)
        return found

    def known_items(self, endpoint: str, source_key: str) -> Iterator[tuple[str, str]]:
        """(store_id, item_sku) of every item last accepted from this source, streamed (a few
        thousand rows in memory at a time)."""
        cursor = self._run("SELECT store_id, item_sku FROM item_hashes WHERE endpoint = ? AND "
                           "source_key = ? ORDER BY store_id, item_sku", [endpoint, source_key])
        while True:
            with self._lock:
                rows = cursor.fetchmany(5000)
            if not rows:
                return
            yield from ((r[0], r[1]) for r in rows)

    def stage(self, push_id: str, rows: Iterable[tuple[str, str, bytes | None]]) -> None:
        """Outcomes of this push, applied to item_hashes when it ends (None: forget the item).

        Staging keeps the delta basis of a push fixed while it runs, so that a resumed push
        plans exactly the chunks it planned before. One report's outcomes are one row (packed
        with msgpack): a row per item cost ~12 µs an item while the push was busiest."""
        outcomes = list(rows)
        if outcomes:
            self._many("INSERT INTO staged_chunks (push_id, outcomes) VALUES (?, ?)",
                       [(push_id, _pack(outcomes))])

    def merge_staged(self, push_id: str, endpoint: str, source_key: str) -> None:
        """Apply the staged outcomes in the order they were staged (the latest of a key wins)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._merge_v1(push_id, endpoint, source_key)
                # One report's outcomes in memory at a time: all of a 1M-item push are ~50 MB.
                ids = self._db.execute("SELECT id FROM staged_chunks WHERE push_id = ? "
                                       "ORDER BY id", [push_id]).fetchall()
                for (row_id,) in ids:
                    packed = self._db.execute("SELECT outcomes FROM staged_chunks WHERE id = ?",
                                              [row_id]).fetchone()[0]
                    self._apply(push_id, endpoint, source_key, _unpack(packed))
                self._db.execute("DELETE FROM staged_chunks WHERE push_id = ?", [push_id])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _apply(self, push_id: str, endpoint: str, source_key: str,
               outcomes: list[tuple[str, str, bytes | None]]) -> None:
        latest = {(store, sku): digest for store, sku, digest in outcomes}
        # In key order: neighbouring rows of item_hashes, few pages touched per report.
        self._db.executemany(
            "INSERT OR REPLACE INTO item_hashes VALUES (?, ?, ?, ?, ?, ?)",
            [(endpoint, source_key, store, sku, digest, push_id)
             for (store, sku), digest in sorted(latest.items()) if digest is not None])
        self._db.executemany(
            "DELETE FROM item_hashes WHERE endpoint = ? AND source_key = ? AND store_id = ? "
            "AND item_sku = ?", [(endpoint, source_key, store, sku)
                                 for (store, sku), digest in latest.items() if digest is None])

    def _merge_v1(self, push_id: str, endpoint: str, source_key: str) -> None:
        """The per-item rows of a push staged by a version before schema v2, resumed by this."""
        self._db.execute(
            "INSERT OR REPLACE INTO item_hashes SELECT ?, ?, store_id, item_sku, content_hash, "
            "push_id FROM staged_hashes WHERE push_id = ? AND content_hash IS NOT NULL",
            [endpoint, source_key, push_id])
        self._db.execute(
            "DELETE FROM item_hashes WHERE endpoint = ? AND source_key = ? AND "
            "(store_id, item_sku) IN (SELECT store_id, item_sku FROM staged_hashes "
            "WHERE push_id = ? AND content_hash IS NULL)", [endpoint, source_key, push_id])
        self._db.execute("DELETE FROM staged_hashes WHERE push_id = ?", [push_id])


_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(list[tuple[str, str, bytes | None]]).decode
