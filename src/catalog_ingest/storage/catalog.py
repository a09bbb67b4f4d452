"""Repository for the catalog itself: items, barcode ownership and last rejections, in bulk.

The hot path goes through the DBAPI cursor of the SQLAlchemy connection (same transaction):
SQLAlchemy Core's executemany measured about twice the driver's own time for these upserts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

_encode_json = msgspec.json.Encoder().encode
_json_each_available: bool | None = None  # probed once per process, on first use
_CHUNK = 900  # stays under every SQLite build's host-parameter limit

ITEM_COLUMNS = (
    "store_id", "item_sku", "external_product_id", "external_product_id_type", "item_name",
    "standard_price", "brand_name", "product_tax_code", "product_category",
    "product_subcategory", "additional_ids", "active", "updated_at", "ingestion_id",
)
_UPDATABLE = ITEM_COLUMNS[2:]


@dataclass(slots=True)
class StoredItem:
    """An item as the catalog holds it: the stored values (canonical tuple) and liveness."""

    values: tuple[Any, ...]
    active: bool
    barcodes: list[str]


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


class CatalogRepo:
    """Bulk reads and writes of one transaction's connection, in the dialect's fastest form."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.cursor = conn.connection.cursor()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def _select_in(self, sql_head: str, fixed: tuple[Any, ...], keys: Sequence[str]) -> list[Any]:
        """Rows of `sql_head ... IN (keys)`: one query (= ANY on PostgreSQL, json_each on SQLite,
        else IN lists of at most _CHUNK keys)."""
        if self.pg:
            packed = self._json_array(keys)
            if packed is not None:
                # One JSON text parameter: psycopg dumps a 10k-element list ~20x slower.
                sql = sql_head + " = ANY(ARRAY(SELECT json_array_elements_text(?::json)))"
                self.cursor.execute(self._sql(sql), (*fixed, packed))
            else:
                self.cursor.execute(self._sql(sql_head + " = ANY(?)"), (*fixed, list(keys)))
            return list(self.cursor.fetchall())
        packed = self._json_array(keys)
        if packed is not None:
            # One statement over a JSON array: ~25% faster than 900-key IN lists for 10k keys.
            self.cursor.execute(f"{sql_head} IN (SELECT value FROM json_each(?))",
                                (*fixed, packed))
            return list(self.cursor.fetchall())
        rows: list[Any] = []
        for part in _chunks(keys):
            marks = ",".join("?" * len(part))
            self.cursor.execute(f"{sql_head} IN ({marks})", (*fixed, *part))
            rows.extend(self.cursor.fetchall())
        return rows

    def _json_array(self, keys: Sequence[str]) -> str | None:
        """`keys` as a JSON array for SQLite's json_each; None where that cannot be used."""
        global _json_each_available
        if _json_each_available is None and not self.pg:
            try:
                self.cursor.execute("SELECT count(*) FROM json_each('[]')")
                self.cursor.fetchall()
                _json_each_available = True
            except sqlite3.OperationalError:  # an SQLite built without the JSON functions
                _json_each_available = False
        if not (self.pg or _json_each_available):
            return None
        try:
            return _encode_json(list(keys)).decode()
        except UnicodeEncodeError:  # a lone surrogate: no JSON text carries it faithfully
            return None

    def load_items(self, store_id: str, skus: Sequence[str]) -> dict[str, StoredItem]:
        head = (
            "SELECT item_sku, external_product_id, external_product_id_type, item_name, "
            "standard_price, brand_name, product_tax_code, product_category, product_subcategory, "
            "additional_ids, active FROM items WHERE store_id = ? AND item_sku"
        )
        out: dict[str, StoredItem] = {}
        for row in self._select_in(head, (store_id,), skus):
            extras = decode_additional(row[9])
            values = (*row[1:9], extras)
            barcodes = [row[1], *(e[0] for e in extras)]
            out[row[0]] = StoredItem(values, bool(row[10]), barcodes)
        return out

    def load_barcode_owners(self, store_id: str, codes: Sequence[str]) -> dict[str, str]:
        head = "SELECT barcode, item_sku FROM barcodes WHERE store_id = ? AND barcode"
        return {row[0]: row[1] for row in self._select_in(head, (store_id,), codes)}

    def load_rejected(self, store_id: str, skus: Sequence[str]) -> set[str]:
        head = "SELECT item_sku FROM rejections WHERE store_id = ? AND item_sku"
        return {row[0] for row in self._select_in(head, (store_id,), skus)}

    def upsert_items(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cols = ", ".join(ITEM_COLUMNS)
        sets = ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
        if self.pg:
            # COPY into a transaction-local staging table, then one set-based upsert: psycopg's
            # pipelined executemany measured ~3x slower for 10k rows.
            self.cursor.execute("CREATE TEMP TABLE IF NOT EXISTS staged_items "
                                "(LIKE items INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            self._copy("staged_items", ITEM_COLUMNS, rows)
            self.cursor.execute(f"INSERT INTO items ({cols}) SELECT {cols} FROM staged_items "
                                f"ON CONFLICT (store_id, item_sku) DO UPDATE SET {sets}")
            self.cursor.execute("DELETE FROM staged_items")
            return
        marks = ", ".join("?" * len(ITEM_COLUMNS))
        sql = (f"INSERT INTO items ({cols}) VALUES ({marks}) "
               f"ON CONFLICT (store_id, item_sku) DO UPDATE SET {sets}")
        self.cursor.executemany(sql, rows)

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL COPY of `rows` into `table` (same transaction)."""
        with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def set_inactive(self, keys: Sequence[tuple[str, str]], now: float, ingestion_id: str) -> None:
        if keys:
            sql = ("UPDATE items SET active = ?, updated_at = ?, ingestion_id = ? "
                   "WHERE store_id = ? AND item_sku = ?")
            self.cursor.executemany(
                self._sql(sql), [(False, now, ingestion_id, s, k) for s, k in keys]
            )

    def delete_barcodes(self, keys: Iterable[tuple[str, str]]) -> None:
        rows = list(keys)
        if not rows:
            return
        if self.pg:
            stores, codes = [k[0] for k in rows], [k[1] for k in rows]
            self.cursor.execute(
                "DELETE FROM barcodes b USING unnest(%s::text[], %s::text[]) AS d(s, c) "
                "WHERE b.store_id = d.s AND b.barcode = d.c", (stores, codes))
            return
        sql = "DELETE FROM barcodes WHERE store_id = ? AND barcode = ?"
        self.cursor.executemany(sql, rows)

    def insert_barcodes(self, rows: Iterable[tuple[str, str, str]]) -> None:
        data = list(rows)
        if not data:
            return
        if self.pg:
            self._copy("barcodes", ("store_id", "barcode", "item_sku"), data)
            return
        sql = "INSERT INTO barcodes (store_id, barcode, item_sku) VALUES (?, ?, ?)"
        self.cursor.executemany(sql, data)

    def upsert_rejections(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        sql = (
            "INSERT INTO rejections (store_id, item_sku, ingestion_id, rejected_at, issues, "
            "item_name, product_category, standard_price) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (store_id, item_sku) DO UPDATE SET ingestion_id = excluded.ingestion_id, "
            "rejected_at = excluded.rejected_at, issues = excluded.issues, "
            "item_name = excluded.item_name, product_category = excluded.product_category, "
            "standard_price = excluded.standard_price"
        )
        self.cursor.executemany(self._sql(sql), rows)

    def delete_rejections(self, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            sql = "DELETE FROM rejections WHERE store_id = ? AND item_sku = ?"
            self.cursor.executemany(self._sql(sql), keys)

    def find_skus(self, store_ids: Sequence[str], skus: Sequence[str]
                  ) -> list[tuple[str, str, bool]]:
        """(store_id, item_sku, active) of every item of these stores with one of these SKUs."""
        out: list[tuple[str, str, bool]] = []
        for store_id in store_ids:
            head = "SELECT store_id, item_sku, active FROM items WHERE store_id = ? AND item_sku"
            out.extend((r[0], r[1], bool(r[2])) for r in self._select_in(head, (store_id,), skus))
        return out


def encode_additional(extras: tuple[tuple[str, str | None], ...]) -> str | None:
    """Additional ids as stored: a compact JSON array of [id, type] pairs, NULL when none."""
    if not extras:
        return None
    try:
        # Byte-identical to the json.dumps form below for every string without lone
        # surrogates (checked over all code points), at a tenth of its cost per item.
        return _encode_json(extras).decode()
    except UnicodeEncodeError:
        return json.dumps([list(e) for e in extras], separators=(",", ":"), ensure_ascii=False)


_decode_additional = msgspec.json.Decoder(list[tuple[str, str | None]])


def decode_additional(raw: str | None) -> tuple[tuple[str, str | None], ...]:
    if not raw:
        return ()
    return tuple(_decode_additional.decode(raw))
