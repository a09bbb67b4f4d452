"""Repository for portal batches: one checked file submitted as one or more uploads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from catalog_ingest.storage import tables as t


@dataclass(frozen=True)
class Batch:
    batch_id: str
    retailer_id: str
    user_id: str
    file_name: str
    format: str
    sheet: str | None
    mapping: str | None
    source_key: str
    row_count: int
    item_count: int
    created_at: float


@dataclass(frozen=True)
class BatchUpload:
    ingestion_id: str
    batch_id: str
    position: int
    lines_key: str


def insert_batch(conn: Connection, batch: Batch, members: list[BatchUpload]) -> None:
    conn.execute(insert(t.portal_batches).values(**batch.__dict__))
    if members:
        conn.execute(insert(t.portal_batch_uploads), [m.__dict__ for m in members])


def get_batch(conn: Connection, batch_id: str, retailer_id: str) -> Batch | None:
    b = t.portal_batches.c
    row = conn.execute(select(t.portal_batches).where(
        b.batch_id == batch_id, b.retailer_id == retailer_id)).first()
    return Batch(**row._mapping) if row else None


def batch_uploads(conn: Connection, batch_id: str) -> list[BatchUpload]:
    u = t.portal_batch_uploads.c
    rows = conn.execute(select(t.portal_batch_uploads).where(u.batch_id == batch_id)
                        .order_by(u.position)).all()
    return [BatchUpload(**r._mapping) for r in rows]


def membership(conn: Connection, ingestion_id: str) -> BatchUpload | None:
    """The batch entry of an upload made by the portal from a file (None for any other)."""
    u = t.portal_batch_uploads.c
    row = conn.execute(select(t.portal_batch_uploads).where(u.ingestion_id == ingestion_id)
                       ).first()
    return BatchUpload(**row._mapping) if row else None
