"""Browsing and searching one store's catalog for the portal: SKU, name, scanned barcode.

A query that reads as a barcode (digits, with the spaces or dashes people paste) is looked up
among the store's barcodes under every spelling a scanner may give for the same GTIN (UPC-A
with or without its EAN-13 leading zero, GTIN-14 zero padding), plus as a SKU. Any other query
lists SKUs starting with it, then items whose name starts with it (ASCII case ignored). Pages
are keyset pages: the cursor is the position of the last row shown, never an offset.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from catalog_ingest.engine.catalog_views import ItemView, item_view
from catalog_ingest.errors import NotFound
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, portal_reads
from catalog_ingest.storage.portal_reads import Filters, Rejection
from catalog_ingest.storage.reads import ItemRow

PAGE_SIZE: Final = 50
_SCANNED = re.compile(r"[0-9][0-9 \-]*")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_GTIN_LENGTHS = (8, 12, 13, 14)


@dataclass(frozen=True, slots=True)
class Query:
    store_id: str
    text: str = ""
    status: str = ""  # "" (any), "ACTIVE" or "ARCHIVED"
    problems: bool = False
    cursor: str | None = None


@dataclass
class Page:
    """One page of results; `next_cursor` is None on the last page."""

    items: list[ItemView]
    problems: dict[str, Rejection]
    next_cursor: str | None
    matched: str  # "all", "barcode", "text"
    barcodes_tried: list[str] = field(default_factory=list)


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only: what SQLite's lower() does (and PostgreSQL's under C)."""
    return text.translate(_ASCII_LOWER)


def barcode_spellings(text: str) -> list[str]:
    """The spellings of a scanned or pasted barcode to look up; [] when it is not one.

    Spaces and dashes go; a GTIN is tried at 8, 12, 13 and 14 digits, adding or removing
    leading zeros (a UPC-A 012345678905 is also the EAN-13 0012345678905 and a spreadsheet's
    12345678905), and as typed.
    """
    stripped = text.strip()
    if not _SCANNED.fullmatch(stripped):
        return []
    digits = stripped.replace(" ", "").replace("-", "")
    if not 4 <= len(digits) <= 14:
        return []
    found = [digits]
    core = digits.lstrip("0") or "0"
    for width in _GTIN_LENGTHS:
        if len(core) <= width:
            found.append(core.zfill(width))
    return list(dict.fromkeys(found))


def _require_store(svc: Runtime, retailer_id: str, store_id: str) -> None:
    with svc.db.read() as conn:
        store = admin.stores_by_id(conn, [store_id]).get(store_id)
    if store is None or store.retailer_id != retailer_id:
        raise NotFound(f"no store {store_id!r}")


def _filters(query: Query) -> Filters:
    active = {"ACTIVE": True, "ARCHIVED": False}.get(query.status)
    return Filters(active, query.problems)


def encode_cursor(position: list[str]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> list[str] | None:
    """The position a cursor names; None (start over) for a missing or unreadable one."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=list[str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    return position if position and position[0] in ("s", "n") else None


def search(svc: Runtime, retailer_id: str, query: Query, limit: int = PAGE_SIZE) -> Page:
    """One page of the store's items matching `query` (all of them when its text is empty)."""
    _require_store(svc, retailer_id, query.store_id)
    text = query.text.strip()
    filters = _filters(query)
    codes = barcode_spellings(text)
    with svc.db.read() as conn:
        if codes:
            rows = _barcode_rows(conn, query.store_id, text, codes, filters)
            page = Page([], {}, None, "barcode", codes)
        else:
            rows, next_cursor = _text_rows(conn, query.store_id, text, filters,
                                           decode_cursor(query.cursor), limit)
            page = Page([], {}, next_cursor, "text" if text else "all")
        page.problems = portal_reads.rejections_for(conn, query.store_id,
                                                    [r.item_sku for r in rows])
    page.items = [item_view(r) for r in rows]
    return page


def _barcode_rows(conn: Any, store_id: str, text: str, codes: list[str],
                  filters: Filters) -> list[ItemRow]:
    rows = {r.item_sku: r for r in portal_reads.by_barcodes(conn, store_id, codes)}
    by_sku = portal_reads.item(conn, store_id, text)
    if by_sku is not None:
        rows.setdefault(by_sku.item_sku, by_sku)
    found = [r for r in rows.values() if filters.active is None or r.active == filters.active]
    if filters.problems:
        with_problems = portal_reads.rejections_for(conn, store_id, [r.item_sku for r in found])
        found = [r for r in found if r.item_sku in with_problems]
    return sorted(found, key=lambda r: r.item_sku)


def _text_rows(conn: Any, store_id: str, text: str, filters: Filters,
               position: list[str] | None, limit: int) -> tuple[list[ItemRow], str | None]:
    """SKUs starting with `text` (SKU order), then names starting with it (name order)."""
    rows: list[ItemRow] = []
    phase = position[0] if position else "s"
    if phase == "s":
        after = position[1] if position and len(position) == 2 else None
        rows = portal_reads.browse(conn, store_id, after, limit + 1, filters, text or None)
        if len(rows) > limit or not text:
            more = len(rows) > limit
            rows = rows[:limit]
            return rows, encode_cursor(["s", rows[-1].item_sku]) if more else None
        position = None
    after_name = (position[1], position[2]) if position and len(position) == 3 else None
    need = limit - len(rows)
    names = portal_reads.by_name_prefix(conn, store_id, ascii_lower(text), after_name,
                                        need + 1, filters)
    more = len(names) > need
    shown = names[:need]
    # Names that also start with the text as a SKU were listed in the SKU phase already.
    page = rows + [r for r in shown if not r.item_sku.startswith(text)]
    if not more:
        return page, None
    if not shown:
        return page, encode_cursor(["n"])
    last = shown[-1]
    return page, encode_cursor(["n", ascii_lower(last.item_name), last.item_sku])


@dataclass
class ItemDetail:
    """One item with what the item page shows: fields, state, last upload, latest rejection."""

    item: ItemView | None
    rejection: Rejection | None


def item_detail(svc: Runtime, retailer_id: str, store_id: str, sku: str) -> ItemDetail:
    """The item (None when only a rejected submission exists) and its latest rejection."""
    _require_store(svc, retailer_id, store_id)
    with svc.db.read() as conn:
        row = portal_reads.item(conn, store_id, sku)
        rejection = portal_reads.rejections_for(conn, store_id, [sku]).get(sku)
    if row is None and rejection is None:
        raise NotFound(f"no item {sku!r} in store {store_id!r}")
    return ItemDetail(item_view(row) if row else None, rejection)


def retailer_stores(svc: Runtime, retailer_id: str) -> list[admin.Store]:
    with svc.db.read() as conn:
        return list(admin.retailer_stores(conn, retailer_id))
