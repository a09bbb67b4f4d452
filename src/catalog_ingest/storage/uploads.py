"""Repository for uploads: intake, idempotency, ordered claims with leases, fenced completion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, text, update
from sqlalchemy.orm import aliased

from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.storage import tables as t

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


def insert_upload(conn: Connection, **values: Any) -> None:
    values["store_ids"] = json.dumps(values["store_ids"])
    conn.execute(insert(t.uploads).values(status=S.INQUEUE.value, attempts=0, **values))


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


def claim_next(conn: Connection, worker_id: str, lease_seconds: float, now: float) -> Upload | None:
    """Claim the oldest claimable upload: per retailer strictly in acceptance order.

    A retailer's oldest unfinished upload is claimable when queued or when its claim's lease has
    run out (its worker died); later uploads of that retailer wait, which is what makes
    "later wins" hold whatever the number of workers. Must run in a write transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
    u, e = t.uploads, aliased(t.uploads)
    earlier = exists().where(
        e.c.retailer_id == u.c.retailer_id, e.c.status.in_(_ACTIVE), e.c.seq < u.c.seq
    )
    row = conn.execute(
        select(u)
        .where(
            u.c.status.in_(_ACTIVE),
            or_(u.c.status == S.INQUEUE.value, u.c.lease_expires_at < now),
            ~earlier,
        )
        .order_by(u.c.seq)
        .limit(1)
    ).first()
    if row is None:
        return None
    conn.execute(
        update(u).where(u.c.seq == row.seq).values(
            status=S.INPROGRESS.value, claimed_by=worker_id, lease_expires_at=now + lease_seconds,
            started_at=row.started_at or now,
        )
    )
    claimed = conn.execute(select(u).where(u.c.seq == row.seq)).one()
    return _upload(claimed)


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
