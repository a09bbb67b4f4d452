"""Edit, archive and reactivate one item from the portal: each an upload through the intake.

An edit or a reactivation is an upload of that one item, an archive an archive request for
that one SKU, so history, reports and notifications are those of any upload. Before anything
is submitted the item is checked with the service's rules: the request model, the stateless
item rules and the planner against the store's catalog (a barcode held by another SKU), and
the errors come back per form field. A form carries the version (the upload that last set the
item) it was opened on: if the item changed since, the form is stale and nothing is sent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from catalog_ingest.domain.issues import Issue
from catalog_ingest.domain.items import ADDITIONAL_IDS, OPTIONAL_FIELDS
from catalog_ingest.domain.rules import is_request_model_valid, item_issues, request_model_issues
from catalog_ingest.engine import intake
from catalog_ingest.engine.catalog_views import ItemView, item_view
from catalog_ingest.engine.planner import plan_upload
from catalog_ingest.engine.processor import load_state
from catalog_ingest.errors import Conflict, NotFound
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, portal_reads
from catalog_ingest.storage.catalog import CatalogRepo

EDITABLE: Final = ("external_product_id", "external_product_id_type", "item_name",
                   *[f for f in OPTIONAL_FIELDS if f != "external_product_id_type"])
ADDITIONAL_FORM_FIELD: Final = "additional_ids"
_encode = msgspec.json.Encoder().encode


class StaleForm(Conflict):
    """The item changed after the form was opened; nothing was submitted."""


@dataclass
class Outcome:
    """An accepted submission (`ingestion_id`), or why nothing was submitted."""

    ingestion_id: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)
    unchanged: bool = False


def item_from_form(store_id: str, sku: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The item a form describes; empty fields are absent. Additional ids: one per line,
    a barcode optionally followed by its type ("4006381333931 EAN")."""
    item: dict[str, Any] = {"item_sku": sku, "store_id": store_id}
    for name in EDITABLE:
        value = form.get(name, "")
        if value != "":
            item[name] = value
    extras = []
    for line in form.get(ADDITIONAL_FORM_FIELD, "").splitlines():
        parts = line.split()
        if not parts:
            continue
        entry = {"external_product_id": parts[0]}
        if len(parts) > 1:
            entry["external_product_id_type"] = " ".join(parts[1:])
        extras.append(entry)
    if extras:
        item[ADDITIONAL_IDS] = extras
    return item


def form_values(item: Mapping[str, Any]) -> dict[str, str]:
    """An item's values as the edit form shows them (the inverse of `item_from_form`)."""
    values = {name: str(item.get(name) or "") for name in EDITABLE}
    values[ADDITIONAL_FORM_FIELD] = "\n".join(
        " ".join(filter(None, (e.get("external_product_id"), e.get("external_product_id_type"))))
        for e in item.get(ADDITIONAL_IDS) or [])
    return values


def form_field(path: str | None) -> str:
    """The form field an issue's field path belongs to."""
    if path is None:
        return ""
    base = path.split("[", 1)[0].split(".", 1)[0]
    return ADDITIONAL_FORM_FIELD if base == ADDITIONAL_IDS else base


def check_item(svc: Runtime, item: dict[str, Any]) -> tuple[list[Issue], str | None]:
    """The issues the service would give this one-item upload, and its action if accepted."""
    if not is_request_model_valid(item):
        return request_model_issues(item), None
    stateless = item_issues(item)  # the planner adds conflicts to these (all shown at once)
    with svc.db.read() as conn:
        state = load_state(CatalogRepo(conn), [item])
    result = plan_upload([item], [stateless], state, "check", time.time()).results[0]
    return result.issues, result.action


def _errors_by_field(found: list[Issue]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in found:
        if issue.is_error:
            out.setdefault(form_field(issue.field), []).append(issue.message)
    return out


def _current(svc: Runtime, retailer_id: str, store_id: str, sku: str) -> ItemView | None:
    with svc.db.read() as conn:
        store = admin.stores_by_id(conn, [store_id]).get(store_id)
        if store is None or store.retailer_id != retailer_id:
            raise NotFound(f"no store {store_id!r}")
        row = portal_reads.item(conn, store_id, sku)
    return item_view(row) if row else None


def _require_fresh(current: ItemView | None, version: str) -> None:
    now = current["ingestionId"] if current else ""
    if version != now:
        raise StaleForm("This item was changed (by upload "
                        f"{now or 'unknown'}) after you opened the form. Nothing was sent: "
                        "review the current values and submit again.")


def _key(kind: str, nonce: str) -> str:
    """The idempotency key of a form submission: a form sent twice makes one upload."""
    return f"portal-{kind}:{hashlib.sha256(nonce.encode()).hexdigest()[:40]}"


def _upload_one(svc: Runtime, retailer_id: str, item: dict[str, Any], nonce: str,
                kind: str) -> str:
    """A one-item upload through the API's own intake (request model, stores, durability)."""
    return intake.submit_upload(svc, retailer_id, _encode({"catalogItems": [item]}),
                                idempotency_key=_key(kind, nonce), source="portal")


def save(svc: Runtime, retailer_id: str, store_id: str, sku: str, form: Mapping[str, str],
         version: str, nonce: str) -> Outcome:
    """Submit the edited item as a one-item upload when it passes the service's rules."""
    current = _current(svc, retailer_id, store_id, sku)
    _require_fresh(current, version)
    item = item_from_form(store_id, sku, form)
    found, action = check_item(svc, item)
    if action is None:
        return Outcome(errors=_errors_by_field(found), warnings=found)
    if action == "UNCHANGED":
        return Outcome(unchanged=True, warnings=found)
    return Outcome(_upload_one(svc, retailer_id, item, nonce, "edit"), warnings=found)


def reactivate(svc: Runtime, retailer_id: str, store_id: str, sku: str, version: str,
               nonce: str) -> Outcome:
    """Upload an archived item's stored values again (the report says CREATED)."""
    current = _current(svc, retailer_id, store_id, sku)
    _require_fresh(current, version)
    if current is None or current["status"] != "ARCHIVED":
        raise StaleForm(f"SKU {sku} is not archived in store {store_id}: nothing to reactivate.")
    item = {k: v for k, v in current.items() if k not in ("status", "updatedAt", "ingestionId")}
    found, action = check_item(svc, item)
    if action is None:
        return Outcome(errors=_errors_by_field(found), warnings=found)
    return Outcome(_upload_one(svc, retailer_id, item, nonce, "reactivate"), warnings=found)


def archive_scope(svc: Runtime, retailer_id: str, sku: str) -> list[str]:
    """The stores where archiving `sku` takes effect: every store of the retailer holding it
    live (the archive operation works across the retailer's stores)."""
    with svc.db.read() as conn:
        stores = [s.store_id for s in admin.retailer_stores(conn, retailer_id)]
        found = CatalogRepo(conn).find_skus(stores, [sku])
    return sorted(store for store, _, active in found if active)


def archive(svc: Runtime, retailer_id: str, store_id: str, sku: str, version: str,
            nonce: str) -> str:
    """Archive `sku` through the archive operation (in every store of the retailer)."""
    current = _current(svc, retailer_id, store_id, sku)
    _require_fresh(current, version)
    if current is None or current["status"] != "ACTIVE":
        raise StaleForm(f"SKU {sku} is already archived in store {store_id}.")
    with svc.db.read() as conn:
        stores = [s.store_id for s in admin.retailer_stores(conn, retailer_id)]
    body = _encode({"itemSkus": [sku], "allApplicableStores": stores})
    return intake.submit_archive(svc, retailer_id, body, idempotency_key=_key("archive", nonce),
                                 source="portal")
