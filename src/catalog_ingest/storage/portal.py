"""Repository for what the portal reads and writes: its users, filtered upload lists, key use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from catalog_ingest.storage import tables as t
from catalog_ingest.storage.uploads import Upload, _upload


@dataclass(frozen=True)
class UserRow:
    user_id: str
    retailer_id: str
    email: str
    password_hash: str
    role: str
    created_at: float
    last_login_at: float | None


@dataclass(frozen=True)
class KeyRow:
    access_key_id: str
    created_at: float
    last_used_at: float | None
    revoked: bool


@dataclass(frozen=True)
class UploadFilter:
    """Which of a retailer's uploads a list shows; None means any."""

    status: str | None = None
    source: str | None = None
    submitted_from: float | None = None
    submitted_before: float | None = None
    batch_id: str | None = None


def _user(row: Any) -> UserRow:
    return UserRow(row.user_id, row.retailer_id, row.email, row.password_hash, row.role,
                   row.created_at, row.last_login_at)


def insert_user(conn: Connection, user: UserRow) -> None:
    conn.execute(insert(t.portal_users).values(
        user_id=user.user_id, retailer_id=user.retailer_id, email=user.email,
        password_hash=user.password_hash, role=user.role, created_at=user.created_at,
        last_login_at=user.last_login_at,
    ))


def user_by_email(conn: Connection, email: str) -> UserRow | None:
    row = conn.execute(select(t.portal_users).where(t.portal_users.c.email == email)).first()
    return _user(row) if row else None


def user_by_id(conn: Connection, user_id: str) -> UserRow | None:
    row = conn.execute(select(t.portal_users).where(t.portal_users.c.user_id == user_id)).first()
    return _user(row) if row else None


def record_login(conn: Connection, user_id: str, now: float, new_hash: str | None) -> None:
    """Note a successful log-in; `new_hash` replaces a hash made with outdated parameters."""
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    conn.execute(update(t.portal_users).where(t.portal_users.c.user_id == user_id).values(**values))


def retailer_name(conn: Connection, retailer_id: str) -> str | None:
    name = conn.execute(
        select(t.retailers.c.name).where(t.retailers.c.retailer_id == retailer_id)
    ).scalar()
    return str(name) if name is not None else None


def list_uploads(conn: Connection, retailer_id: str, flt: UploadFilter, limit: int,
                 before_seq: int | None = None) -> list[Upload]:
    """A retailer's uploads matching `flt`, newest first, `limit` of them before `before_seq`."""
    u = t.uploads.c
    query = select(t.uploads).where(u.retailer_id == retailer_id)
    if before_seq is not None:
        query = query.where(u.seq < before_seq)
    if flt.status is not None:
        query = query.where(u.status == flt.status)
    if flt.source is not None:
        query = query.where(u.source == flt.source)
    if flt.submitted_from is not None:
        query = query.where(u.submitted_at >= flt.submitted_from)
    if flt.submitted_before is not None:
        query = query.where(u.submitted_at < flt.submitted_before)
    if flt.batch_id is not None:
        query = query.where(u.batch_id == flt.batch_id)
    rows = conn.execute(query.order_by(u.seq.desc()).limit(limit))
    return [_upload(r) for r in rows]


def live_worker_count(conn: Connection, since: float) -> int:
    """Workers whose heartbeat is not older than `since` (what /healthz counts)."""
    count = conn.execute(
        select(func.count()).select_from(t.workers).where(t.workers.c.heartbeat_at >= since)
    ).scalar()
    return int(count or 0)


def retailer_keys(conn: Connection, retailer_id: str) -> list[KeyRow]:
    a = t.access_keys.c
    rows = conn.execute(
        select(a.access_key_id, a.created_at, a.last_used_at, a.revoked)
        .where(a.retailer_id == retailer_id).order_by(a.created_at)
    )
    return [KeyRow(r.access_key_id, r.created_at, r.last_used_at, bool(r.revoked)) for r in rows]


def touch_key(conn: Connection, access_key_id: str, now: float, not_since: float) -> None:
    """Set a key's last use to `now` unless it was already recorded after `not_since`."""
    a = t.access_keys.c
    conn.execute(
        update(t.access_keys)
        .where(a.access_key_id == access_key_id,
               or_(a.last_used_at.is_(None), a.last_used_at < not_since))
        .values(last_used_at=now)
    )
