"""Finding and deleting old records in small batches: uploads, finished payloads, notifications,
portal batches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, exists, select, update

from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.storage import tables as t

TERMINAL = (S.DONE.value, S.FATAL.value, S.CANCELLED.value)
FINISHED_MESSAGES = ("DELIVERED", "GAVE_UP", "DROPPED")
#: `payload_key` of an upload whose payload was purged (the column is NOT NULL).
PURGED = ""


@dataclass(frozen=True)
class OldUpload:
    seq: int
    ingestion_id: str
    payload_key: str
    report_key: str | None


def take_old_uploads(conn: Connection, before: float, limit: int) -> list[OldUpload]:
    """Delete up to `limit` uploads that ended before `before`; what their blobs are."""
    u = t.uploads.c
    rows = conn.execute(
        select(u.seq, u.ingestion_id, u.payload_key, u.report_key)
        .where(u.status.in_(TERMINAL), u.completed_at < before)
        .order_by(u.seq).limit(limit)
    ).all()
    found = [OldUpload(r.seq, r.ingestion_id, r.payload_key, r.report_key) for r in rows]
    if found:
        conn.execute(delete(t.uploads).where(u.seq.in_([f.seq for f in found])))
    return found


def take_finished_payloads(conn: Connection, before: float, limit: int) -> list[str]:
    """Forget the payloads of up to `limit` uploads that ended before `before`; their keys."""
    u = t.uploads.c
    rows = conn.execute(
        select(u.seq, u.payload_key)
        .where(u.status.in_(TERMINAL), u.completed_at < before, u.payload_key != PURGED)
        .order_by(u.seq).limit(limit)
    ).all()
    if rows:
        conn.execute(update(t.uploads).where(u.seq.in_([r.seq for r in rows]))
                     .values(payload_key=PURGED))
    return [r.payload_key for r in rows]


def delete_old_notifications(conn: Connection, before: float, limit: int) -> int:
    """Delete up to `limit` finished outbox messages (and their attempts) older than `before`;
    also attempts recorded before `before` of messages still pending (a long retry)."""
    o = t.outbox.c
    ids = list(conn.execute(
        select(o.id).where(o.status.in_(FINISHED_MESSAGES), o.finished_at < before)
        .order_by(o.id).limit(limit)
    ).scalars())
    if ids:
        conn.execute(delete(t.delivery_attempts).where(t.delivery_attempts.c.outbox_id.in_(ids)))
        conn.execute(delete(t.outbox).where(o.id.in_(ids)))
    a = t.delivery_attempts.c
    stale = list(conn.execute(
        select(a.id).where(a.attempted_at < before).order_by(a.id).limit(limit)).scalars())
    if stale:
        conn.execute(delete(t.delivery_attempts).where(a.id.in_(stale)))
    return len(ids) + len(stale)


def take_old_batches(conn: Connection, before: float, limit: int) -> list[list[str]]:
    """Delete up to `limit` portal batches created before `before` none of whose uploads is
    left (retention took them, or they never got in); per batch, the keys of its blobs (the
    file as uploaded and each upload's line map)."""
    b = t.portal_batches.c
    m = t.portal_batch_uploads.c
    left = (select(m.ingestion_id).join(t.uploads, t.uploads.c.ingestion_id == m.ingestion_id)
            .where(m.batch_id == b.batch_id))
    rows = conn.execute(
        select(b.batch_id, b.source_key).where(b.created_at < before, ~exists(left))
        .order_by(b.created_at).limit(limit)
    ).all()
    if not rows:
        return []
    keys = {r.batch_id: [r.source_key] for r in rows}
    for batch_id, lines_key in conn.execute(
            select(m.batch_id, m.lines_key).where(m.batch_id.in_(list(keys)))).all():
        keys[batch_id].append(lines_key)
    conn.execute(delete(t.portal_batch_uploads).where(m.batch_id.in_(list(keys))))
    conn.execute(delete(t.portal_batches).where(b.batch_id.in_(list(keys))))
    return list(keys.values())
