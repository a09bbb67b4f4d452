"""Each store's catalog: search, filters, the item page; edit, archive, reactivate.

Stores and SKUs travel as query parameters (`?store=…&sku=…`), never as path segments: a SKU
may hold any character, a slash included.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import catalog_search, item_edit
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.engine.catalog_search import Query
from catalog_ingest.portal.context import NavLink, Portal
from catalog_ingest.portal.errors import not_found

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


def routes(portal: Portal) -> list[BaseRoute]:
    svc = portal.runtime

    async def catalog(request: Request, user: PortalUser) -> Response:
        stores = await portal.call(catalog_search.retailer_stores, svc, user.retailer_id)
        store = request.query_params.get("store") or (stores[0].store_id if stores else "")
        if not store:
            return portal.render(request, "catalog.html", stores=[], store="", page=None,
                                 query=Query(""), statuses=STATUSES)
        q = request.query_params
        query = Query(store, q.get("q", "")[:255], q.get("status", ""),
                      q.get("problems") == "1", q.get("cursor") or None)
        page = await portal.call(catalog_search.search, svc, user.retailer_id, query)
        return portal.render(request, "catalog.html", stores=stores, store=store, page=page,
                             query=query, statuses=STATUSES)

    async def item_page(request: Request, user: PortalUser) -> Response:
        store, sku = _key(request)
        detail = await portal.call(catalog_search.item_detail, svc, user.retailer_id, store, sku)
        scope = []
        if detail.item is not None and detail.item["status"] == "ACTIVE":
            scope = await portal.call(item_edit.archive_scope, svc, user.retailer_id, sku)
        return portal.render(request, "item.html", store=store, sku=sku, detail=detail,
                             scope=scope, nonce=uuid.uuid4().hex, labels=LABELS)

    async def edit_form(request: Request, user: PortalUser) -> Response:
        store, sku = _key(request)
        detail = await portal.call(catalog_search.item_detail, svc, user.retailer_id, store, sku)
        if detail.item is None:
            raise not_found()
        return portal.render(request, "item_edit.html", store=store, sku=sku,
                             values=item_edit.form_values(detail.item), errors={},
                             version=detail.item["ingestionId"], nonce=uuid.uuid4().hex,
                             labels=LABELS, stale=None)

    async def edit_submit(request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        values = _form_dict(form)
        version, nonce = values.get("version", ""), values.get("nonce", "")
        try:
            outcome = await portal.call(item_edit.save, svc, user.retailer_id, store, sku,
                                        values, version, nonce)
        except item_edit.StaleForm as exc:
            detail = await portal.call(catalog_search.item_detail, svc, user.retailer_id,
                                       store, sku)
            current = detail.item or {}
            return portal.render(request, "item_edit.html", status=409, store=store, sku=sku,
                                 values=item_edit.form_values(current), errors={},
                                 version=current.get("ingestionId", ""), nonce=uuid.uuid4().hex,
                                 labels=LABELS, stale=str(exc))
        if outcome.ingestion_id is None and not outcome.unchanged:
            return portal.render(request, "item_edit.html", status=400, store=store, sku=sku,
                                 values=values, errors=outcome.errors, version=version,
                                 nonce=nonce, labels=LABELS, stale=None)
        if outcome.unchanged:
            return portal.redirect(request, "/catalog/item", "Nothing changed: the item already "
                                   "has these values.", "info", store=store, sku=sku)
        return portal.redirect(request, f"/uploads/{outcome.ingestion_id}",
                               f"Saved {sku}: submitted as a one-item upload.", "success")

    async def archive(request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        try:
            ingestion_id = await portal.call(item_edit.archive, svc, user.retailer_id, store,
                                             sku, str(form.get("version", "")),
                                             str(form.get("nonce", "")))
        except item_edit.StaleForm as exc:
            return portal.redirect(request, "/catalog/item", str(exc), "error", store=store,
                                   sku=sku)
        return portal.redirect(request, f"/uploads/{ingestion_id}",
                               f"Archiving {sku}: submitted as an archive request.", "success")

    async def reactivate(request: Request, user: PortalUser) -> Response:
        form = await request.form()
        store, sku = _key(request, form)
        try:
            outcome = await portal.call(item_edit.reactivate, svc, user.retailer_id, store, sku,
                                        str(form.get("version", "")), str(form.get("nonce", "")))
        except item_edit.StaleForm as exc:
            return portal.redirect(request, "/catalog/item", str(exc), "error", store=store,
                                   sku=sku)
        if outcome.ingestion_id is None:
            problems = "; ".join(m for ms in outcome.errors.values() for m in ms)
            return portal.redirect(request, "/catalog/item", f"{sku} cannot be reactivated "
                                   f"as it is: {problems}. Edit it instead.", "error",
                                   store=store, sku=sku)
        return portal.redirect(request, f"/uploads/{outcome.ingestion_id}",
                               f"Reactivating {sku}: submitted as a one-item upload.", "success")

    return [
        portal.route("/catalog", catalog, role=Role.VIEWER, name="catalog"),
        portal.route("/catalog/item", item_page, role=Role.VIEWER),
        portal.route("/catalog/item/edit", edit_form, role=Role.EDITOR),
        portal.route("/catalog/item/edit", edit_submit, methods=["POST"], role=Role.EDITOR),
        portal.route("/catalog/item/archive", archive, methods=["POST"], role=Role.EDITOR),
        portal.route("/catalog/item/reactivate", reactivate, methods=["POST"], role=Role.EDITOR),
    ]
