"""Each store's catalog: search, filters, the item page; edit, archive, reactivate.

Stores and SKUs travel as query parameters (`?store=…&sku=…`), never as path segments: a SKU
may hold any character, a slash included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import catalog_search, item_edit
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.engine.catalog_search import Query
from catalog_ingest.portal.context import NavLink, Portal
from catalog_ingest.portal.errors import not_found

T = TypeVar("T")
NAV: tuple[NavLink, ...] = (NavLink("Catalog", "/catalog", Role.VIEWER, order=30),)
STATUSES = (("", "Any status"), ("ACTIVE", "Active"), ("ARCHIVED", "Archived"))
LABELS = {
    "external_product_id": "Barcode (external_product_id)",
    "external_product_id_type": "Barcode type (UPC, EAN, EAN8, ISBN, GTIN, PLU; empty: inferred)",
    "item_name": "Name", "standard_price": "Price (e.g. 4.99)", "brand_name": "Brand",
    "product_tax_code": "Tax code", "product_category": "Category",
    "product_subcategory": "Subcategory",
}


def _key(request: Request, form: FormData | None = None) -> tuple[str, str]:
    source = form if form is not None else request.query_params
    store, sku = str(source.get("store", "")), str(source.get("sku", ""))
    if not store or not sku:
        raise not_found()
    return store, sku


def _form_dict(form: FormData) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


class CatalogPages:
    """The handlers of the catalog pages (one instance per portal)."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.svc = portal.runtime

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(runtime, *args)` off the event loop."""
        return await self.portal.call(fn, self.svc, *args)

    def _edit_page(self, request: Request, status: int, store: str, sku: str,
                   values: dict[str, str], version: str, errors: dict[str, list[str]],
                   stale: str | None, nonce: str | None = None) -> Response:
        return self.portal.render(request, "item_edit.html", status=status, store=store, sku=sku,
                                  values=values, errors=errors, version=version,
                                  nonce=nonce or uuid.uuid4().hex, labels=LABELS, stale=stale)

    async def catalog(self, request: Request, user: PortalUser) -> Response:
        stores = await self.call(catalog_search.retailer_stores, user.retailer_id)
        q = request.query_params
        store = q.get("store") or (stores[0].store_id if stores else "")
        query = Query(store, q.get("q", "")[:255], q.get("status", ""),
                      q.get("problems") == "1", q.get("cursor") or None)
        page = await self.call(catalog_search.search, user.retailer_id, query) if store else None
        return self.portal.render(request, "catalog.html", stores=stores, store=store,
                                  page=page, query=query, statuses=STATUSES)

    async def item_page(self, request: Request, user: PortalUser) -> Response:
        store, sku = _key(request)
        detail = await self.call(catalog_search.item_detail, user.retailer_id, store, sku)
        scope: list[str] = []
        if detail.item is not None and detail.item["status"] == "ACTIVE":
            scope = await self.call(item_edit.archive_scope, user.retailer_id, sku)
        return self.portal.render(request, "item.html", store=store, sku=sku, detail=detail,
                                  scope=scope, nonce=uuid.uuid4().hex, labels=LABELS)

    async def edit_form(self, request: Request, user: PortalUser) -> Response:
        store, sku = _key(request)
        detail = await self.call(catalog_search.item_detail, user.retailer_id, store, sku)
        if detail.item is None:
            raise not_found()
        return self._edit_page(request, 200, store, sku, item_edit.form_values(detail.item),
                               str(detail.item["ingestionId"]), {}, None)

    async def edit_submit(self, request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        values = _form_dict(form)
        version, nonce = values.get("version", ""), values.get("nonce", "")
        try:
            outcome = await self.call(item_edit.save, user.retailer_id, store, sku, values,
                                      version, nonce)
        except item_edit.StaleForm as exc:
            detail = await self.call(catalog_search.item_detail, user.retailer_id, store, sku)
            current: Mapping[str, Any] = detail.item or {}
            return self._edit_page(request, 409, store, sku, item_edit.form_values(current),
                                   str(current.get("ingestionId") or ""), {}, str(exc))
        if outcome.unchanged:
            return self.portal.redirect(request, "/catalog/item", "Nothing changed: the item "
                                        "already has these values.", "info", store=store, sku=sku)
        if outcome.ingestion_id is None:
            return self._edit_page(request, 400, store, sku, values, version, outcome.errors,
                                   None, nonce)
        return self.portal.redirect(request, f"/uploads/{outcome.ingestion_id}",
                                    f"Saved {sku}: submitted as a one-item upload.", "success")

    async def archive(self, request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        version, nonce = str(form.get("version", "")), str(form.get("nonce", ""))
        try:
            ingestion_id = await self.call(item_edit.archive, user.retailer_id, store, sku,
                                           version, nonce)
        except item_edit.StaleForm as exc:
            return self.portal.redirect(request, "/catalog/item", str(exc), "error",
                                        store=store, sku=sku)
        return self.portal.redirect(request, f"/uploads/{ingestion_id}",
                                    f"Archiving {sku}: submitted as an archive request.",
                                    "success")

    async def reactivate(self, request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        version, nonce = str(form.get("version", "")), str(form.get("nonce", ""))
        try:
            outcome = await self.call(item_edit.reactivate, user.retailer_id, store, sku,
                                      version, nonce)
        except item_edit.StaleForm as exc:
            return self.portal.redirect(request, "/catalog/item", str(exc), "error",
                                        store=store, sku=sku)
        if outcome.ingestion_id is None:
            problems = "; ".join(m for ms in outcome.errors.values() for m in ms)
            return self.portal.redirect(request, "/catalog/item", f"{sku} cannot be "
                                        f"reactivated as it is: {problems}. Edit it instead.",
                                        "error", store=store, sku=sku)
        return self.portal.redirect(request, f"/uploads/{outcome.ingestion_id}",
                                    f"Reactivating {sku}: submitted as a one-item upload.",
                                    "success")


def routes(portal: Portal) -> list[BaseRoute]:
    pages = CatalogPages(portal)
    editor, post = Role.EDITOR, ["POST"]
    return [
        portal.route("/catalog", pages.catalog, role=Role.VIEWER, name="catalog"),
        portal.route("/catalog/item", pages.item_page, role=Role.VIEWER),
        portal.route("/catalog/item/edit", pages.edit_form, role=editor),
        portal.route("/catalog/item/edit", pages.edit_submit, methods=post, role=editor),
        portal.route("/catalog/item/archive", pages.archive, methods=post, role=editor),
        portal.route("/catalog/item/reactivate", pages.reactivate, methods=post, role=editor),
    ]
