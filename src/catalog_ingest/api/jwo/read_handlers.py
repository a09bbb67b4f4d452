"""The read extensions of the JWO API: list uploads, get and list items, look up a barcode."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from catalog_ingest.api.auth import Caller, RawRequest
from catalog_ingest.api.errors import json_response
from catalog_ingest.api.jwo.handlers import Handler
from catalog_ingest.engine import catalog_views as views
from catalog_ingest.engine.requests import (
    GetItemsRequest,
    ListItemsRequest,
    ListUploadsRequest,
    LookupBarcodeRequest,
    decode,
)
from catalog_ingest.runtime import Runtime


def _page(key: str, entries: list[Any], next_token: str | None) -> Response:
    body: dict[str, Any] = {key: entries}
    if next_token is not None:
        body["nextToken"] = next_token
    return json_response(200, body)


def list_catalog_uploads(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, ListUploadsRequest)
    entries, next_token = views.list_uploads(
        svc, caller.retailer_id, request.maxResults, request.nextToken, request.processingStatus)
    return _page("catalogUploads", entries, next_token)


def get_catalog_items(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, GetItemsRequest)
    found = views.get_items(svc, caller.retailer_id, request.store_id, request.item_skus)
    return json_response(200, {"catalogItems": found})


def list_catalog_items(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, ListItemsRequest)
    entries, next_token = views.list_items(
        svc, caller.retailer_id, request.store_id, request.maxResults, request.nextToken)
    return _page("catalogItems", entries, next_token)


def lookup_barcode(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, LookupBarcodeRequest)
    found = views.lookup_barcode(svc, caller.retailer_id, request.store_id,
                                 request.external_product_id)
    return json_response(200, {"catalogItem": found})


READ_OPERATIONS: dict[str, Handler] = {
    "listCatalogUploads": list_catalog_uploads,
    "getCatalogItems": get_catalog_items,
    "listCatalogItems": list_catalog_items,
    "lookupBarcode": lookup_barcode,
}
