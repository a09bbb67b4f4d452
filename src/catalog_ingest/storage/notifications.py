"""Repository for notifications: subscriptions, the outbox, delivery attempts, the signing key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select, update

from catalog_ingest.storage import tables as t

PENDING_CONFIRMATION = "PENDING_CONFIRMATION"
CONFIRMED = "CONFIRMED"
DELETED = "DELETED"

PENDING = "PENDING"
DELIVERED = "DELIVERED"
GAVE_UP = "GAVE_UP"
DROPPED = "DROPPED"
FAILED = "FAILED"


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    retailer_id: str
    protocol: str
    endpoint: str
    sqs_options: dict[str, str]
    status: str
    confirm_token: str | None
    created_at: float
    confirmed_at: float | None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message_id: str
    kind: str
    retailer_id: str
    subscription_id: str
    ingestion_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: float


@dataclass(frozen=True)
class Attempt:
    attempt_id: int
    attempted_at: float
    outcome: str
    detail: str
    message_id: str
    kind: str
    subscription_id: str
    ingestion_id: str | None
    message_status: str
    attempts: int


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row.subscription_id, row.retailer_id, row.protocol, row.endpoint,
        json.loads(row.sqs_options) if row.sqs_options else {}, row.status, row.confirm_token,
        row.created_at, row.confirmed_at,
    )


def _outbox_row(row: Any) -> OutboxRow:
    return OutboxRow(row.id, row.message_id, row.kind, row.retailer_id, row.subscription_id,
                     row.ingestion_id, json.loads(row.payload), row.status, row.attempts,
                     row.created_at)


# --- subscriptions -------------------------------------------------------------------------

def insert_subscription(conn: Connection, sub: Subscription) -> None:
    conn.execute(insert(t.subscriptions).values(
        subscription_id=sub.subscription_id, retailer_id=sub.retailer_id, protocol=sub.protocol,
        endpoint=sub.endpoint, sqs_options=json.dumps(sub.sqs_options) if sub.sqs_options else None,
        status=sub.status, confirm_token=sub.confirm_token, created_at=sub.created_at,
        confirmed_at=sub.confirmed_at,
    ))


def get_subscription(conn: Connection, subscription_id: str) -> Subscription | None:
    row = conn.execute(select(t.subscriptions).where(
        t.subscriptions.c.subscription_id == subscription_id)).first()
    return None if row is None else _subscription(row)


def subscription_by_token(conn: Connection, token: str) -> Subscription | None:
    row = conn.execute(select(t.subscriptions).where(
        t.subscriptions.c.confirm_token == token)).first()
    return None if row is None else _subscription(row)


def list_subscriptions(conn: Connection, retailer_id: str) -> list[Subscription]:
    rows = conn.execute(select(t.subscriptions)
                        .where(t.subscriptions.c.retailer_id == retailer_id)
                        .order_by(t.subscriptions.c.created_at, t.subscriptions.c.subscription_id))
    return [_subscription(row) for row in rows]


def confirmed_subscription_ids(conn: Connection, retailer_id: str) -> list[str]:
    c = t.subscriptions.c
    rows = conn.execute(select(c.subscription_id)
                        .where(c.retailer_id == retailer_id, c.status == CONFIRMED)
                        .order_by(c.subscription_id))
    return [row.subscription_id for row in rows]


def set_subscription_status(conn: Connection, subscription_id: str, status: str,
                            confirm_token: str | None, confirmed_at: float | None) -> None:
    conn.execute(update(t.subscriptions)
                 .where(t.subscriptions.c.subscription_id == subscription_id)
                 .values(status=status, confirm_token=confirm_token, confirmed_at=confirmed_at))


# --- the outbox ----------------------------------------------------------------------------

def enqueue(conn: Connection, *, message_id: str, kind: str, retailer_id: str,
            subscription_id: str, ingestion_id: str | None, payload: dict[str, Any],
            now: float) -> None:
    conn.execute(insert(t.outbox).values(
        message_id=message_id, kind=kind, retailer_id=retailer_id,
        subscription_id=subscription_id, ingestion_id=ingestion_id,
        payload=json.dumps(payload, separators=(",", ":")), status=PENDING, attempts=0,
        next_attempt_at=now, created_at=now,
    ))


def _due(now: float) -> Any:
    return and_(t.outbox.c.status == PENDING, t.outbox.c.next_attempt_at <= now)


def any_due(conn: Connection, now: float) -> bool:
    return bool(conn.execute(select(exists().where(_due(now)))).scalar())


def claim_due(conn: Connection, now: float, lease_until: float, limit: int,
              *, skip_locked: bool) -> list[OutboxRow]:
    """Take up to `limit` due messages: their `next_attempt_at` moves to `lease_until`, so no
    other deliverer takes them until then (or until this one records the outcome)."""
    query = (select(t.outbox.c.id).where(_due(now))
             .order_by(t.outbox.c.next_attempt_at, t.outbox.c.id).limit(limit))
    if skip_locked:  # PostgreSQL: concurrent deliverers pass over each other's rows
        query = query.with_for_update(skip_locked=True)
    ids = [row.id for row in conn.execute(query)]
    if not ids:
        return []
    conn.execute(update(t.outbox).where(t.outbox.c.id.in_(ids))
                 .values(next_attempt_at=lease_until))
    rows = conn.execute(select(t.outbox).where(t.outbox.c.id.in_(ids)).order_by(t.outbox.c.id))
    return [_outbox_row(row) for row in rows]


def record_attempt(conn: Connection, row: OutboxRow, *, outcome: str, detail: str, now: float,
                   status: str, next_attempt_at: float) -> None:
    """One attempt and the message's new state; a message already finished (by a deliverer
    whose lease had run out) keeps its state, but the attempt is still on record."""
    conn.execute(insert(t.delivery_attempts).values(
        outbox_id=row.id, retailer_id=row.retailer_id, attempted_at=now, outcome=outcome,
        detail=detail[:2000],
    ))
    conn.execute(
        update(t.outbox).where(t.outbox.c.id == row.id, t.outbox.c.status == PENDING).values(
            status=status, attempts=t.outbox.c.attempts + 1, next_attempt_at=next_attempt_at,
            finished_at=None if status == PENDING else now,
        )
    )


def outbox_rows(conn: Connection, retailer_id: str) -> list[OutboxRow]:
    rows = conn.execute(select(t.outbox).where(t.outbox.c.retailer_id == retailer_id)
                        .order_by(t.outbox.c.id))
    return [_outbox_row(row) for row in rows]


def list_attempts(conn: Connection, retailer_id: str, limit: int) -> list[Attempt]:
    """The retailer's most recent delivery attempts, newest first."""
    a, o = t.delivery_attempts.c, t.outbox.c
    rows = conn.execute(
        select(a.id, a.attempted_at, a.outcome, a.detail, o.message_id, o.kind, o.subscription_id,
               o.ingestion_id, o.status, o.attempts)
        .join_from(t.delivery_attempts, t.outbox, a.outbox_id == o.id)
        .where(a.retailer_id == retailer_id).order_by(a.id.desc()).limit(limit)
    )
    return [Attempt(r.id, r.attempted_at, r.outcome, r.detail, r.message_id, r.kind,
                    r.subscription_id, r.ingestion_id, r.status, r.attempts) for r in rows]


# --- the signing key -----------------------------------------------------------------------

def signing_key_row(conn: Connection, name: str) -> tuple[bytes, str] | None:
    row = conn.execute(select(t.signing_keys.c.key_sealed, t.signing_keys.c.certificate)
                       .where(t.signing_keys.c.name == name)).first()
    return None if row is None else (bytes(row.key_sealed), row.certificate)


def insert_signing_key(conn: Connection, name: str, key_sealed: bytes, certificate: str,
                       now: float) -> None:
    conn.execute(insert(t.signing_keys).values(name=name, key_sealed=key_sealed,
                                               certificate=certificate, created_at=now))
