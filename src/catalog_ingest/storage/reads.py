"""Read-side queries: items by key range, SKU and barcode; catalog counts; rejected SKUs.

Every query here is an index lookup or an index range scan (keyset pagination, never OFFSET),
so a page deep in a million-item store costs what the first page costs. Like `CatalogRepo`,
the hot queries go through the DBAPI cursor of the SQLAlchemy connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, func, select

from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.storage import tables as t
from catalog_ingest.storage.admin import Store

_ITEM_COLUMNS = (
    "store_id, item_sku, external_product_id, external_product_id_type, item_name, "
    "standard_price, brand_name, product_tax_code, product_category, product_subcategory, "
    "additional_ids, active, updated_at, ingestion_id"
)
_CHUNK = 900  # under every SQLite build's host-parameter limit
_UPLOAD_SCAN_BATCH = 200


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One stored item, as the items table holds it."""

    store_id: str
    item_sku: str
    external_product_id: str
    external_product_id_type: str | None
    item_name: str
    standard_price: str | None
    brand_name: str | None
    product_tax_code: str | None
    product_category: str | None
    product_subcategory: str | None
    additional_ids: str | None  # JSON array of [id, type] pairs
    active: bool
    updated_at: float
    ingestion_id: str


@dataclass(frozen=True, slots=True)
class RejectionRow:
    """The most recent rejected submission of a SKU that has no live version."""

    item_sku: str
    issues: list[dict[str, Any]]
    item_name: str | None
    product_category: str | None
    standard_price: str | None


class RawCursor:
    """The connection's DBAPI cursor with SQLite-style `?` marks on both databases."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.cursor = conn.connection.cursor()

    def all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.cursor.execute(sql.replace("?", "%s") if self.pg else sql, tuple(params))
        return list(self.cursor.fetchall())


def item_row(row: Sequence[Any]) -> ItemRow:
    return ItemRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                   row[9], row[10], bool(row[11]), float(row[12]), row[13])


def items_page(conn: Connection, store_id: str, after_sku: str | None, limit: int) -> list[ItemRow]:
    """Up to `limit` items of the store with SKU > `after_sku`, in SKU order (a PK range scan)."""
    cur = RawCursor(conn)
    if after_sku is None:
        sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE store_id = ? ORDER BY item_sku LIMIT ?"
        rows = cur.all(sql, (store_id, limit))
    else:
        sql = (f"SELECT {_ITEM_COLUMNS} FROM items WHERE store_id = ? AND item_sku > ? "
               "ORDER BY item_sku LIMIT ?")
        rows = cur.all(sql, (store_id, after_sku, limit))
    return [item_row(r) for r in rows]


def items_by_sku(conn: Connection, store_id: str, skus: Sequence[str]) -> dict[str, ItemRow]:
    """The store's items with these SKUs, archived ones included; missing SKUs are absent."""
    cur = RawCursor(conn)
    out: dict[str, ItemRow] = {}
    for start in range(0, len(skus), _CHUNK):
        part = skus[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE store_id = ? AND item_sku IN ({marks})"
        for row in cur.all(sql, (store_id, *part)):
            out[row[1]] = item_row(row)
    return out


def live_item_by_barcode(conn: Connection, store_id: str, barcode: str) -> ItemRow | None:
    """The active item of the store that holds `barcode`, if any (only live items hold one)."""
    columns = ", ".join(f"i.{c.strip()}" for c in _ITEM_COLUMNS.split(","))
    sql = (f"SELECT {columns} FROM barcodes b JOIN items i "
           "ON i.store_id = b.store_id AND i.item_sku = b.item_sku "
           "WHERE b.store_id = ? AND b.barcode = ? AND i.active = ?")
    rows = RawCursor(conn).all(sql, (store_id, barcode, True))
    return item_row(rows[0]) if rows else None


def store_by_mmc_ids(conn: Connection, merchant_id: int, catalog_id: int) -> Store | None:
    """The store with this merchant id and catalog id (both must name the same store)."""
    row = conn.execute(
        select(t.stores).where(t.stores.c.merchant_id == merchant_id,
                               t.stores.c.catalog_id == catalog_id)
    ).first()
    if row is None:
        return None
    return Store(row.store_id, row.retailer_id, row.name, row.merchant_id, row.catalog_id)


def retailer_enabled(conn: Connection, retailer_id: str) -> bool:
    enabled = conn.execute(
        select(t.retailers.c.enabled).where(t.retailers.c.retailer_id == retailer_id)
    ).scalar()
    return bool(enabled)


def catalog_version(conn: Connection, retailer_id: str) -> tuple[int, int]:
    """(latest sequence number, number) of the retailer's DONE uploads: one index range.

    Items and rejections change only in the transaction that marks an upload DONE, so an
    unchanged version means unchanged counts, in whatever order uploads finish.
    """
    row = conn.execute(
        select(func.max(t.uploads.c.seq), func.count()).where(
            t.uploads.c.retailer_id == retailer_id,
            t.uploads.c.status == ProcessingStatus.DONE.value,
        )
    ).one()
    return int(row[0] or 0), int(row[1])


def published_count(conn: Connection, store_id: str) -> int:
    """Live items of the store."""
    rows = RawCursor(conn).all(
        "SELECT COUNT(*) FROM items WHERE store_id = ? AND active = ?", (store_id, True)
    )
    return int(rows[0][0])


_NOT_LIVE = ("NOT EXISTS (SELECT 1 FROM items i WHERE i.store_id = r.store_id "
             "AND i.item_sku = r.item_sku AND i.active = ?)")


def rejected_count(conn: Connection, store_id: str) -> int:
    """SKUs of the store whose latest submission was rejected and that have no live version."""
    sql = f"SELECT COUNT(*) FROM rejections r WHERE r.store_id = ? AND {_NOT_LIVE}"
    return int(RawCursor(conn).all(sql, (store_id, True))[0][0])


def rejected_rows(conn: Connection, store_id: str) -> list[RejectionRow]:
    """The rows `rejected_count` counts, in SKU order, with their issues decoded."""
    sql = ("SELECT r.item_sku, r.issues, r.item_name, r.product_category, r.standard_price "
           f"FROM rejections r WHERE r.store_id = ? AND {_NOT_LIVE} ORDER BY r.item_sku")
    loads = msgspec.json.decode
    return [RejectionRow(r[0], loads(r[1]), r[2], r[3], r[4])
            for r in RawCursor(conn).all(sql, (store_id, True))]


def latest_upload_time(conn: Connection, retailer_id: str, store_id: str) -> float | None:
    """Completion time of the retailer's latest DONE upload (or archive) naming the store.

    `store_ids` is a JSON array, so a LIKE on the store's JSON form narrows the scan and
    the decoded array decides (SQLite's LIKE ignores ASCII case).
    """
    needle = json.dumps(store_id)
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    u = t.uploads.c
    before: int | None = None
    while True:
        query = select(u.seq, u.store_ids, u.completed_at).where(
            u.retailer_id == retailer_id, u.status == ProcessingStatus.DONE.value,
            u.store_ids.like(pattern, escape="\\"),
        )
        if before is not None:
            query = query.where(u.seq < before)
        rows = conn.execute(query.order_by(u.seq.desc()).limit(_UPLOAD_SCAN_BATCH)).all()
        for row in rows:
            if store_id in json.loads(row.store_ids):
                return float(row.completed_at)
        if len(rows) < _UPLOAD_SCAN_BATCH:
            return None
        before = rows[-1].seq

