"""Repository for uploads: intake, idempotency, ordered claims with leases, fenced completion."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, delete, insert, select, text, update

from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.storage import tables as t
from catalog_ingest.storage.database import Database, after_commit
from catalog_ingest.storage.inbox import Inbox

state_log = logging.getLogger("catalog_ingest.uploads")

_ACTIVE = (S.INQUEUE.value, S.INPROGRESS.value)
_PG_CLAIM_LOCK = 727_002


@dataclass(frozen=True)
class Upload:
    seq: int
    ingestion_id: str
    retailer_id: str
    kind: str
    status: str
    item_count: int
    store_ids: list[str]
    payload_key: str
    submitted_at: float
    started_at: float | None
    completed_at: float | None
    attempts: int
    claimed_by: str | None
    summary: dict[str, Any] | None
    error: dict[str, Any] | None
    report_key: str | None
    idempotency_key: str | None
    request_hash: str
    #: api | push | portal (see engine/intake.py: upload_source).
    source: str = "api"
    #: The portal batch the upload belongs to (a file submitted as several uploads).
    batch_id: str | None = None


def _upload(row: Any) -> Upload:
    return Upload(
        row.seq, row.ingestion_id, row.retailer_id, row.kind, row.status, row.item_count,
        json.loads(row.store_ids), row.payload_key, row.submitted_at, row.started_at,
        row.completed_at, row.attempts, row.claimed_by,
        json.loads(row.summary) if row.summary else None,
        json.loads(row.error) if row.error else None, row.report_key, row.idempotency_key,
        row.request_hash, row.source, row.batch_id,
    )


def log_state(conn: Connection, ingestion_id: str, status: str, **fields: Any) -> None:
    """One log line per upload state change, written once the change is committed."""
    line = {"ingestion_id": ingestion_id, "upload_status": status, **fields}
    after_commit(conn, lambda: state_log.info("upload state", extra={"fields": line}))


def insert_upload(conn: Connection, **values: Any) -> None:
    values["store_ids"] = json.dumps(values["store_ids"])
    conn.execute(insert(t.uploads).values(status=S.INQUEUE.value, attempts=0, **values))
    log_state(conn, values["ingestion_id"], S.INQUEUE.value, retailer_id=values["retailer_id"],
              kind=values["kind"], items=values["item_count"])


def store_upload(db: Database, not_before: float, **values: Any) -> Upload | None:
    """Store an accepted upload durably (committed when this returns); None, or the earlier
    upload that already used its Idempotency-Key since `not_before` (a replay).

    On SQLite, when this process's writer is busy (an upload being processed holds it), the
    upload goes to the intake inbox instead of waiting (storage/inbox.py): a 201 never waits
    for processing. Either way the Idempotency-Key is checked against both places.
    """
    retailer_id, key = values["retailer_id"], values["idempotency_key"]
    if db.inbox is None:
        with db.write() as conn:
            return _store_direct(conn, not_before, values)
    with db.inbox.lock, db.write_if_free() as conn:
        if conn is not None:  # the writer was free: straight into `uploads` (inbox drained)
            return _store_direct(conn, not_before, values)
        if key is not None:
            waiting = db.inbox.find_by_idempotency_key(retailer_id, key)
            if waiting is not None:
                return _from_inbox(waiting)
            # Checked after the inbox: a row moving meanwhile is in `uploads` by now.
            with db.read() as reader:
                earlier = find_by_idempotency_key(reader, retailer_id, key, not_before)
            if earlier is not None:
                return earlier
        db.inbox.put({**values, "store_ids": json.dumps(values["store_ids"])})
    state_log.info("upload state", extra={"fields": {
        "ingestion_id": values["ingestion_id"], "upload_status": S.INQUEUE.value,
        "retailer_id": retailer_id, "kind": values["kind"], "items": values["item_count"]}})
    return None


def _store_direct(conn: Connection, not_before: float, values: dict[str, Any]) -> Upload | None:
    key = values["idempotency_key"]
    if key is not None:
        earlier = find_by_idempotency_key(conn, values["retailer_id"], key, not_before,
                                          release=True)
        if earlier is not None:  # lost a race with a concurrent retry of the same request
            return earlier
    insert_upload(conn, **values)
    return None


def _from_inbox(values: dict[str, Any]) -> Upload:
    """A waiting upload as an Upload: queued, not yet numbered (seq 0)."""
    return Upload(
        0, values["ingestion_id"], values["retailer_id"], values["kind"], S.INQUEUE.value,
        values["item_count"], json.loads(values["store_ids"]), values["payload_key"],
        values["submitted_at"], None, None, 0, None, None, None, None,
        values["idempotency_key"], values["request_hash"],
    )


def find_by_idempotency_key(
    conn: Connection, retailer_id: str, key: str, not_before: float, *, release: bool = False
) -> Upload | None:
    """The upload that used `key` since `not_before`.

    With `release` (write transactions only) an expired use gives its key up, so the unique
    (retailer, key) constraint lets a new upload take it.
    """
    row = conn.execute(
        select(t.uploads).where(
            t.uploads.c.retailer_id == retailer_id, t.uploads.c.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    if row.submitted_at < not_before:
        if release:
            released = update(t.uploads).where(t.uploads.c.seq == row.seq)
            conn.execute(released.values(idempotency_key=None))
        return None
    return _upload(row)


def get_upload(
    conn: Connection, ingestion_id: str, retailer_id: str | None = None
) -> Upload | None:
    query = select(t.uploads).where(t.uploads.c.ingestion_id == ingestion_id)
    if retailer_id is not None:
        query = query.where(t.uploads.c.retailer_id == retailer_id)
    row = conn.execute(query).first()
    return _upload(row) if row else None


_UPLOAD_COLUMNS = ("seq", "ingestion_id", "retailer_id", "kind", "status", "item_count",
                   "store_ids", "payload_key", "submitted_at", "started_at", "completed_at",
                   "attempts", "claimed_by", "summary", "error", "report_key", "idempotency_key",
                   "request_hash")
_LOOKUP = (f"SELECT {', '.join(_UPLOAD_COLUMNS)} FROM uploads "
           "WHERE ingestion_id = ? AND retailer_id = ?")


T = TypeVar("T")
_STATUS = "SELECT status FROM uploads WHERE ingestion_id = ? AND retailer_id = ?"


def _fresh(db: Database, sql: str, ingestion_id: str, retailer_id: str,
           waiting: Callable[[Inbox], T | None], found: Callable[[tuple[Any, ...]], T]
           ) -> T | None:
    """`found(row)` of one indexed statement on `uploads`, read fresh (no cache); on SQLite,
    when the upload is not (yet) there, `waiting(inbox)`.

    The move from the inbox inserts into `uploads`, commits, then deletes from the inbox; so
    `uploads` is read again after an inbox miss, or an upload moving between the first two
    reads would be reported unknown."""
    params = (ingestion_id, retailer_id)
    rows = db.query(sql, params)
    if not rows and db.inbox is not None:
        early = waiting(db.inbox)
        if early is not None:
            return early
        rows = db.query(sql, params)
    return found(rows[0]) if rows else None


def lookup_status(db: Database, ingestion_id: str, retailer_id: str) -> str | None:
    """The upload's status, for a status poll (INQUEUE while it waits in the intake inbox)."""
    return _fresh(db, _STATUS, ingestion_id, retailer_id,
                  lambda inbox: S.INQUEUE.value if inbox.holds(ingestion_id, retailer_id)
                  else None,
                  lambda row: str(row[0]))


def lookup_upload(db: Database, ingestion_id: str, retailer_id: str) -> Upload | None:
    """`get_upload` by one statement (with the intake inbox: see `_fresh`)."""
    return _fresh(db, _LOOKUP, ingestion_id, retailer_id,
                  lambda inbox: _from_waiting(inbox.find(ingestion_id, retailer_id)),
                  _from_row)


def _from_waiting(values: dict[str, Any] | None) -> Upload | None:
    return _from_inbox(values) if values is not None else None


def _from_row(row: tuple[Any, ...]) -> Upload:
    return Upload(
        row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8],
        row[9], row[10], row[11], row[12], json.loads(row[13]) if row[13] else None,
        json.loads(row[14]) if row[14] else None, row[15], row[16], row[17],
    )


def claim_next(conn: Connection, worker_id: str, lease_seconds: float, now: float) -> Upload | None:
    """Claim the oldest claimable upload: per store strictly in acceptance order.

    An unfinished upload is claimable when queued, or when its claim's lease has run out (its
    worker died), and no EARLIER unfinished upload of the same retailer shares a store with
    it. Uploads whose store sets do not overlap are independent (items, barcode ownership and
    rejections are all per store), so they may be processed at once by different workers,
    while "later wins" holds for every (store, SKU) whatever the number of workers; archive
    requests name all of the retailer's stores, so they wait for, and hold up, everything of
    theirs. Must run in a write transaction (claims are serialised: PostgreSQL by an advisory
    lock, SQLite by its single writer).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
    seq = _first_claimable(conn, now)
    if seq is None:
        return None
    u = t.uploads
    started = conn.execute(select(u.c.started_at).where(u.c.seq == seq)).scalar()
    conn.execute(
        update(u).where(u.c.seq == seq).values(
            status=S.INPROGRESS.value, claimed_by=worker_id, lease_expires_at=now + lease_seconds,
            started_at=started or now,
        )
    )
    claimed = conn.execute(select(u).where(u.c.seq == seq)).one()
    log_state(conn, claimed.ingestion_id, S.INPROGRESS.value, retailer_id=claimed.retailer_id,
              worker_id=worker_id, attempts=claimed.attempts)
    return _upload(claimed)


def _first_claimable(conn: Connection, now: float) -> int | None:
    """The seq of the oldest claimable upload (see claim_next), scanning the unfinished ones.

    The scan is over the unfinished uploads only (the queue, not the history), in acceptance
    order; each upload seen blocks its stores for the later uploads of its retailer.
    """
    u = t.uploads.c
    rows = conn.execute(
        select(u.seq, u.retailer_id, u.status, u.lease_expires_at, u.store_ids)
        .where(u.status.in_(_ACTIVE))
        .order_by(u.seq)
    )
    busy: dict[str, set[str]] = {}
    for row in rows:
        stores = json.loads(row.store_ids)
        blocked = busy.setdefault(row.retailer_id, set())
        free = blocked.isdisjoint(stores)
        if free and (row.status == S.INQUEUE.value
                     or (row.lease_expires_at is not None and row.lease_expires_at < now)):
            return int(row.seq)
        blocked.update(stores)
    return None


def renew_lease(conn: Connection, ingestion_id: str, worker_id: str, until: float) -> bool:
    result = conn.execute(
        update(t.uploads)
        .where(t.uploads.c.ingestion_id == ingestion_id, t.uploads.c.claimed_by == worker_id,
               t.uploads.c.status == S.INPROGRESS.value)
        .values(lease_expires_at=until)
    )
    return result.rowcount == 1


def release_dead_claims(conn: Connection, worker_ids: list[str]) -> int:
    """Make uploads claimed by workers known to be dead claimable at once."""
    if not worker_ids:
        return 0
    result = conn.execute(
        update(t.uploads)
        .where(t.uploads.c.status == S.INPROGRESS.value, t.uploads.c.claimed_by.in_(worker_ids))
        .values(lease_expires_at=0.0)
    )
    return result.rowcount


def finish(conn: Connection, ingestion_id: str, worker_id: str | None, status: str,
           summary: dict[str, Any] | None, error: dict[str, Any] | None,
           report_key: str | None, now: float) -> bool:
    """End an upload; False (and nothing changed) when the caller's claim is no longer valid."""
    fence = (t.uploads.c.claimed_by == worker_id if worker_id is not None
             else t.uploads.c.status == S.INQUEUE.value)
    result = conn.execute(
        update(t.uploads)
        .where(t.uploads.c.ingestion_id == ingestion_id, t.uploads.c.status.in_(_ACTIVE), fence)
        .values(
            status=status, completed_at=now, lease_expires_at=None,
            summary=json.dumps(summary) if summary is not None else None,
            error=json.dumps(error) if error is not None else None, report_key=report_key,
        )
    )
    if result.rowcount == 1:
        log_state(conn, ingestion_id, status, worker_id=worker_id,
                  error_code=(error or {}).get("code"))
    return result.rowcount == 1


def record_failure(conn: Connection, ingestion_id: str, worker_id: str) -> None:
    """Count a failed attempt and give the claim back, so the upload is retried at once.

    Only failures count: a claim lost because its process was killed does not, so a crash can
    never turn an upload FATAL.
    """
    conn.execute(
        update(t.uploads)
        .where(t.uploads.c.ingestion_id == ingestion_id, t.uploads.c.claimed_by == worker_id,
               t.uploads.c.status == S.INPROGRESS.value)
        .values(lease_expires_at=0.0, attempts=t.uploads.c.attempts + 1)
    )
    log_state(conn, ingestion_id, S.INPROGRESS.value, worker_id=worker_id,
              note="attempt failed; claimable again")


def release_claim(conn: Connection, ingestion_id: str, worker_id: str, why: str) -> bool:
    """Give a claim back without counting an attempt (shutdown, database or store away)."""
    result = conn.execute(
        update(t.uploads)
        .where(t.uploads.c.ingestion_id == ingestion_id, t.uploads.c.claimed_by == worker_id,
               t.uploads.c.status == S.INPROGRESS.value)
        .values(lease_expires_at=0.0)
    )
    if result.rowcount == 1:
        log_state(conn, ingestion_id, S.INPROGRESS.value, worker_id=worker_id,
                  note=f"claim released: {why}")
    return result.rowcount == 1


def list_uploads(conn: Connection, retailer_id: str, limit: int, before_seq: int | None,
                 status: str | None) -> list[Upload]:
    query = select(t.uploads).where(t.uploads.c.retailer_id == retailer_id)
    if before_seq is not None:
        query = query.where(t.uploads.c.seq < before_seq)
    if status is not None:
        query = query.where(t.uploads.c.status == status)
    rows = conn.execute(query.order_by(t.uploads.c.seq.desc()).limit(limit))
    return [_upload(r) for r in rows]


def queue_stats(conn: Connection, now: float, heartbeat_window: float) -> tuple[int, float | None]:
    """(workers with a recent heartbeat, seconds the oldest queued upload has waited)."""
    workers = conn.execute(
        select(t.workers.c.worker_id).where(t.workers.c.heartbeat_at >= now - heartbeat_window)
    ).all()
    oldest = conn.execute(
        select(t.uploads.c.submitted_at)
        .where(t.uploads.c.status == S.INQUEUE.value)
        .order_by(t.uploads.c.seq)
        .limit(1)
    ).scalar()
    return len(workers), (now - oldest if oldest is not None else None)


def heartbeat(conn: Connection, worker_id: str, now: float) -> None:
    updated = conn.execute(
        update(t.workers).where(t.workers.c.worker_id == worker_id).values(heartbeat_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(insert(t.workers).values(worker_id=worker_id, heartbeat_at=now))


def forget_worker(conn: Connection, worker_id: str) -> None:
    conn.execute(delete(t.workers).where(t.workers.c.worker_id == worker_id))


def active_claims(conn: Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(t.uploads.c.ingestion_id, t.uploads.c.claimed_by).where(
            and_(t.uploads.c.status == S.INPROGRESS.value, t.uploads.c.claimed_by.is_not(None))
        )
    )
    return [(r.ingestion_id, r.claimed_by) for r in rows]
