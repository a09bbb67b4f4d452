"""The read extensions as services: uploads and items as the API shows them, with page tokens.

Page tokens are opaque and tamper-proof: sealed by `catalog_ingest.crypto` (AES-GCM, HKDF key),
with the position (last SKU, or last upload sequence number) encrypted and the retailer, the
listing and its scope (store, or status filter) bound as associated data. A token altered,
forged, or issued to another retailer, store or filter fails to open: `InvalidPageToken`.
Positions are keys, not offsets, so pages stay stable while uploads are applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NotRequired, TypedDict, cast

import msgspec

from catalog_ingest import crypto
from catalog_ingest.domain.items import ADDITIONAL_IDS
from catalog_ingest.engine.reports import iso
from catalog_ingest.errors import InvalidPageToken, NotFound, UnknownStores
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, reads, uploads
from catalog_ingest.storage.reads import ItemRow
from catalog_ingest.storage.uploads import Upload

UNKNOWN_STORE = "One or more StoreID's present in the request is incorrect"
NO_BARCODE_MATCH = "No catalog item has this barcode in this store"
ITEMS, UPLOADS = "items", "uploads"

_OPTIONAL = ("external_product_id_type", "standard_price", "brand_name", "product_tax_code",
             "product_category", "product_subcategory")


class PageTokens:
    """Seal and open continuation positions for one server secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @staticmethod
    def _context(retailer_id: str, kind: str, scope: str) -> bytes:
        return msgspec.json.encode([retailer_id, kind, scope])

    def seal(self, retailer_id: str, kind: str, scope: str, position: str | int) -> str:
        return crypto.seal_token(self._secret, crypto.PAGE_TOKEN, msgspec.json.encode(position),
                                 self._context(retailer_id, kind, scope))

    def open(self, retailer_id: str, kind: str, scope: str, token: str) -> str | int:
        try:
            plain = crypto.unseal_token(self._secret, crypto.PAGE_TOKEN, token,
                                        self._context(retailer_id, kind, scope))
            position = msgspec.json.decode(plain)
        except (crypto.Unsealable, msgspec.DecodeError):
            raise InvalidPageToken("page token not issued for this request") from None
        if not isinstance(position, (str, int)) or isinstance(position, bool):
            raise InvalidPageToken("page token not issued for this request")
        return position


class AdditionalIdView(TypedDict):
    external_product_id: str
    external_product_id_type: NotRequired[str]


class ItemView(TypedDict):
    """An item as the API shows it: the upload's field names (absent optional fields are left
    out) plus its state. Key order is the wire order."""

    item_sku: str
    external_product_id: str
    item_name: str
    store_id: str
    external_product_id_type: NotRequired[str]
    standard_price: NotRequired[str]
    brand_name: NotRequired[str]
    product_tax_code: NotRequired[str]
    product_category: NotRequired[str]
    product_subcategory: NotRequired[str]
    additional_external_product_information: NotRequired[list[AdditionalIdView]]
    status: str
    updatedAt: str | None
    ingestionId: str | None


class UploadView(TypedDict):
    ingestionId: str
    processingStatus: str
    submittedAt: str | None
    completedAt: str | None
    itemCount: int
    storeIds: list[str]


def item_view(row: ItemRow) -> ItemView:
    """An item with the upload's field names (absent optional fields omitted) plus its state."""
    out: dict[str, Any] = {
        "item_sku": row.item_sku,
        "external_product_id": row.external_product_id,
        "item_name": row.item_name,
        "store_id": row.store_id,
    }
    for name in _OPTIONAL:
        value = getattr(row, name)
        if value is not None:
            out[name] = value
    if row.additional_ids:
        extras = []
        for code, kind in msgspec.json.decode(row.additional_ids):
            extra = {"external_product_id": code}
            if kind is not None:
                extra["external_product_id_type"] = kind
            extras.append(extra)
        out[ADDITIONAL_IDS] = extras
    out["status"] = "ACTIVE" if row.active else "ARCHIVED"
    out["updatedAt"] = iso(row.updated_at)
    out["ingestionId"] = row.ingestion_id
    return cast(ItemView, out)


def upload_view(upload: Upload) -> UploadView:
    return {
        "ingestionId": upload.ingestion_id,
        "processingStatus": upload.status,
        "submittedAt": iso(upload.submitted_at),
        "completedAt": iso(upload.completed_at),
        "itemCount": upload.item_count,
        "storeIds": upload.store_ids,
    }


def _require_own_store(conn: Any, retailer_id: str, store_id: str) -> None:
    store = admin.stores_by_id(conn, [store_id]).get(store_id)
    if store is None or store.retailer_id != retailer_id:
        raise UnknownStores(UNKNOWN_STORE)


@lru_cache(maxsize=4)
def page_tokens(secret: bytes) -> PageTokens:
    return PageTokens(secret)


def list_uploads(svc: Runtime, retailer_id: str, limit: int, token: str | None,
                 status: str | None) -> tuple[list[UploadView], str | None]:
    """The retailer's uploads, newest first, and the token of the next page (None at the end)."""
    tokens = page_tokens(svc.settings.secret_key)
    scope = status or ""
    before = None
    if token is not None:
        position = tokens.open(retailer_id, UPLOADS, scope, token)
        if not isinstance(position, int):
            raise InvalidPageToken("page token not issued for this request")
        before = position
    with svc.db.read() as conn:
        found = uploads.list_uploads(conn, retailer_id, limit + 1, before, status)
    page = found[:limit]
    next_token = None
    if len(found) > limit:
        next_token = tokens.seal(retailer_id, UPLOADS, scope, page[-1].seq)
    return [upload_view(u) for u in page], next_token


def get_items(svc: Runtime, retailer_id: str, store_id: str,
              skus: Sequence[str]) -> list[ItemView]:
    """The store's items with these SKUs, in request order; missing SKUs are left out."""
    wanted = list(dict.fromkeys(skus))
    with svc.db.read() as conn:
        _require_own_store(conn, retailer_id, store_id)
        found = reads.items_by_sku(conn, store_id, wanted)
    return [item_view(found[sku]) for sku in wanted if sku in found]


def list_items(svc: Runtime, retailer_id: str, store_id: str, limit: int,
               token: str | None) -> tuple[list[ItemView], str | None]:
    """One page of the store's items in SKU order, and the next page's token (None at the end)."""
    tokens = page_tokens(svc.settings.secret_key)
    after = None
    if token is not None:
        position = tokens.open(retailer_id, ITEMS, store_id, token)
        if not isinstance(position, str):
            raise InvalidPageToken("page token not issued for this request")
        after = position
    with svc.db.read() as conn:
        _require_own_store(conn, retailer_id, store_id)
        rows = reads.items_page(conn, store_id, after, limit + 1)
    page = rows[:limit]
    next_token = None
    if len(rows) > limit:
        next_token = tokens.seal(retailer_id, ITEMS, store_id, page[-1].item_sku)
    return [item_view(r) for r in page], next_token


def lookup_barcode(svc: Runtime, retailer_id: str, store_id: str, barcode: str) -> ItemView:
    """The live item of the store holding `barcode`; archived items do not answer."""
    with svc.db.read() as conn:
        _require_own_store(conn, retailer_id, store_id)
        row = reads.live_item_by_barcode(conn, store_id, barcode)
    if row is None:
        raise NotFound(NO_BARCODE_MATCH)
    return item_view(row)
