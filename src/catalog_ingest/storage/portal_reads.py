"""Portal catalog queries: keyset pages of a store's items by SKU, name prefix or barcode.

Every query is an index range scan with a LIMIT (no OFFSET, no COUNT over the store), so a
page of a million-item store costs what a page of a small one does. Indexes used: the items
primary key (store_id, item_sku), ix_items_store_active_sku (store_id, active, item_sku),
ix_items_store_name (store_id, lower(item_name)), the barcodes and rejections primary keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

from catalog_ingest.storage.reads import ItemRow, RawCursor, item_row

_COLUMNS = ("store_id", "item_sku", "external_product_id", "external_product_id_type",
            "item_name", "standard_price", "brand_name", "product_tax_code", "product_category",
            "product_subcategory", "additional_ids", "active", "updated_at", "ingestion_id")
_I_COLUMNS = ", ".join(f"i.{c}" for c in _COLUMNS)
#: The highest code point: every string that starts with p sorts below p + _TOP (binary order).
_TOP = "\U0010ffff"
_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrowing of a listing: None means any status; `problems` keeps items with a rejection."""

    active: bool | None = None
    problems: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    """The latest rejected submission of one SKU in one store."""

    item_sku: str
    ingestion_id: str
    rejected_at: float
    issues: list[dict[str, Any]]


def _filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    sql, params = "", []
    if filters.active is not None:
        sql += " AND i.active = ?"
        params.append(filters.active)
    if filters.problems:
        sql += (" AND EXISTS (SELECT 1 FROM rejections r WHERE r.store_id = i.store_id "
                "AND r.item_sku = i.item_sku)")
    return sql, params


def browse(conn: Connection, store_id: str, after_sku: str | None, limit: int,
           filters: Filters, sku_prefix: str | None = None) -> list[ItemRow]:
    """Up to `limit` items in SKU order after `after_sku`, optionally only SKUs with a prefix."""
    where, params = "i.store_id = ?", [store_id]
    if after_sku is not None:
        where += " AND i.item_sku > ?"
        params.append(after_sku)
    if sku_prefix:
        where += " AND i.item_sku >= ? AND i.item_sku < ?"
        params.extend((sku_prefix, sku_prefix + _TOP))
    extra, extra_params = _filter_sql(filters)
    sql = (f"SELECT {_I_COLUMNS} FROM items i WHERE {where}{extra} "
           "ORDER BY i.item_sku LIMIT ?")
    rows = RawCursor(conn).all(sql, (*params, *extra_params, limit))
    return [item_row(r) for r in rows]


def by_name_prefix(conn: Connection, store_id: str, prefix: str, after: tuple[str, str] | None,
                   limit: int, filters: Filters) -> list[ItemRow]:
    """Items whose lower-cased name starts with `prefix` (lower case), by (name, SKU)."""
    where = "i.store_id = ? AND lower(i.item_name) >= ? AND lower(i.item_name) < ?"
    params: list[Any] = [store_id, prefix, prefix + _TOP]
    if after is not None:
        where += (" AND (lower(i.item_name) > ? OR (lower(i.item_name) = ? "
                  "AND i.item_sku > ?))")
        params.extend((after[0], after[0], after[1]))
    extra, extra_params = _filter_sql(filters)
    sql = (f"SELECT {_I_COLUMNS} FROM items i WHERE {where}{extra} "
           "ORDER BY lower(i.item_name), i.item_sku LIMIT ?")
    rows = RawCursor(conn).all(sql, (*params, *extra_params, limit))
    return [item_row(r) for r in rows]


def by_barcodes(conn: Connection, store_id: str, codes: Sequence[str]) -> list[ItemRow]:
    """The live items holding any of `codes` in the store (only live items hold barcodes)."""
    if not codes:
        return []
    marks = ",".join("?" * len(codes))
    sql = (f"SELECT {_I_COLUMNS} FROM barcodes b JOIN items i "
           "ON i.store_id = b.store_id AND i.item_sku = b.item_sku "
           f"WHERE b.store_id = ? AND b.barcode IN ({marks}) ORDER BY i.item_sku")
    return [item_row(r) for r in RawCursor(conn).all(sql, (store_id, *codes))]


def item(conn: Connection, store_id: str, sku: str) -> ItemRow | None:
    rows = RawCursor(conn).all(
        f"SELECT {_I_COLUMNS} FROM items i WHERE i.store_id = ? AND i.item_sku = ?",
        (store_id, sku))
    return item_row(rows[0]) if rows else None


def rejections_for(conn: Connection, store_id: str, skus: Sequence[str]) -> dict[str, Rejection]:
    """The latest rejection of each of these SKUs that has one."""
    out: dict[str, Rejection] = {}
    cur = RawCursor(conn)
    for start in range(0, len(skus), _CHUNK):
        part = skus[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        sql = ("SELECT item_sku, ingestion_id, rejected_at, issues FROM rejections "
               f"WHERE store_id = ? AND item_sku IN ({marks})")
        for row in cur.all(sql, (store_id, *part)):
            out[row[0]] = Rejection(row[0], row[1], float(row[2]), msgspec.json.decode(row[3]))
    return out
