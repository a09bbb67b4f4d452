"""A naive in-memory model of catalog processing, and helpers to compare the real engine with it.

The model replays accepted uploads and archives in order, straight from the contract
(jwo-api.md "Processing" and "archive"): it keeps only the items, derives barcode ownership
from the live items each time it needs it, and shares no code with `engine.planner`. Only the
stateless per-item rules come from `domain.rules.item_issues` (tested on their own).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from starlette.testclient import TestClient

from catalog_ingest.domain.rules import item_issues
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.reports import report_key
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables
from tests.support.tenants import Tenant

EXTRAS = "additional_external_product_information"
OPTIONAL = ("external_product_id_type", "standard_price", "brand_name", "product_tax_code",
            "product_category", "product_subcategory")

#: One report entry, comparable: (index, item_sku, store_id, status, action, sorted issues),
#: issues as (severity, code) pairs.
Result = tuple[int, str, str | None, str, str | None, tuple[tuple[str, str], ...]]
#: A stored item, comparable: its column values (additional ids decoded) and whether it is live.
Row = tuple[Any, ...]


def stored_row(item: Mapping[str, Any], active: bool) -> Row:
    """What the catalog must hold for an accepted item: absent optional fields are None."""
    extras = tuple((e["external_product_id"], e.get("external_product_id_type"))
                   for e in item.get(EXTRAS) or ())
    return (item["external_product_id"], item["item_name"], *(item.get(f) for f in OPTIONAL),
            extras, active)


def barcodes_of(item: Mapping[str, Any]) -> list[str]:
    extras = item.get(EXTRAS) or ()
    return [item["external_product_id"], *(e["external_product_id"] for e in extras)]


@dataclass
class _Entry:
    item: dict[str, Any]
    active: bool


class CatalogOracle:
    """The catalog as the contract says it must be after replaying uploads in acceptance order."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], _Entry] = {}

    def holder(self, store: str, barcode: str) -> str | None:
        """The live SKU of `store` that lists `barcode`, found by looking at every item."""
        for (s, sku), entry in self.entries.items():
            if s == store and entry.active and barcode in barcodes_of(entry.item):
                return sku
        return None

    def upload(self, items: Sequence[Mapping[str, Any]]) -> list[Result]:
        results: list[Result] = []
        done: set[tuple[str, str]] = set()
        for index, item in enumerate(items):
            store, sku = item["store_id"], item["item_sku"]
            if (store, sku) in done:
                results.append((index, sku, store, "REJECTED", None,
                                (("ERROR", "DUPLICATE_SKU_IN_UPLOAD"),)))
                continue
            done.add((store, sku))
            found = [(i.severity, i.code) for i in item_issues(item)]
            for barcode in barcodes_of(item):
                owner = self.holder(store, barcode)
                if owner is not None and owner != sku:
                    found.append(("ERROR", "BARCODE_CONFLICT"))
            if any(severity == "ERROR" for severity, _ in found):
                results.append((index, sku, store, "REJECTED", None, tuple(sorted(found))))
                continue
            old = self.entries.get((store, sku))
            if old is None or not old.active:
                action = "CREATED"
            elif stored_row(old.item, True) == stored_row(item, True):
                action = "UNCHANGED"
            else:
                action = "UPDATED"
            self.entries[(store, sku)] = _Entry(dict(item), True)
            results.append((index, sku, store, "ACCEPTED", action, tuple(sorted(found))))
        return results

    def archive(self, skus: Sequence[str], stores: Sequence[str]) -> list[Result]:
        results: list[Result] = []
        for index, sku in enumerate(skus):
            if sku in skus[:index]:
                results.append((index, sku, None, "REJECTED", None,
                                (("ERROR", "DUPLICATE_SKU_IN_UPLOAD"),)))
                continue
            present = sorted(s for s in stores if (s, sku) in self.entries)
            live = [s for s in present if self.entries[(s, sku)].active]
            for store in live:
                self.entries[(store, sku)].active = False
                results.append((index, sku, store, "ACCEPTED", "ARCHIVED", ()))
            if not present:
                results.append((index, sku, None, "REJECTED", None, (("ERROR", "SKU_NOT_FOUND"),)))
            elif not live:
                results.extend((index, sku, store, "REJECTED", None,
                                (("ERROR", "ALREADY_ARCHIVED"),)) for store in present)
        return results

    def rows(self) -> dict[tuple[str, str], Row]:
        return {key: stored_row(e.item, e.active) for key, e in self.entries.items()}

    def barcodes(self) -> dict[tuple[str, str], str]:
        return {(store, code): sku for (store, sku), e in self.entries.items() if e.active
                for code in barcodes_of(e.item)}


def upload_summary(results: Sequence[Result]) -> dict[str, int]:
    accepted = [r for r in results if r[3] == "ACCEPTED"]
    return {
        "itemsReceived": len(results), "itemsAccepted": len(accepted),
        "itemsRejected": len(results) - len(accepted),
        "itemsCreated": sum(r[4] == "CREATED" for r in accepted),
        "itemsUpdated": sum(r[4] == "UPDATED" for r in accepted),
        "itemsUnchanged": sum(r[4] == "UNCHANGED" for r in accepted),
        "warnings": sum(sev == "WARNING" for r in results for sev, _ in r[5]),
    }


def archive_summary(results: Sequence[Result], received: int) -> dict[str, int]:
    """Per SKU: accepted when archived in at least one store; itemsArchived counts pairs."""
    archived = [r for r in results if r[4] == "ARCHIVED"]
    accepted = len({r[0] for r in archived})
    return {"itemsReceived": received, "itemsAccepted": accepted,
            "itemsRejected": received - accepted, "itemsCreated": 0, "itemsUpdated": 0,
            "itemsUnchanged": 0, "warnings": 0, "itemsArchived": len(archived)}


def comparable(results: Iterable[Mapping[str, Any]]) -> list[Result]:
    """A report's itemResults in the oracle's form, ordered by index then store."""
    out: list[Result] = [
        (r["index"], r["item_sku"], r["store_id"], r["status"], r["action"],
         tuple(sorted((i["severity"], i["code"]) for i in r["issues"])))
        for r in results
    ]
    return sorted(out, key=lambda r: (r[0], r[2] or ""))


# --- a small universe for random sequences -------------------------------------------------

#: Barcodes with their right declared type; the last two are never valid.
POOL: tuple[tuple[str, str | None], ...] = (
    ("012345678905", "UPC"), ("036000291452", "UPC"), ("4006381333931", "EAN"),
    ("5901234123457", "EAN"), ("96385074", "EAN8"), ("4011", "PLU"), ("0306406152", "ISBN"),
    ("10012345678902", "GTIN"), ("4006381333934", "EAN"), ("123456", None),
)
TYPES = ("UPC", "EAN", "EAN8", "ISBN", "GTIN", "PLU")
SKUS = tuple(f"sku-{n}" for n in range(8))


def new_stores(svc: Runtime, count: int = 2) -> tuple[str, list[str]]:
    """A fresh retailer with `count` fresh stores: (retailer id, store ids)."""
    from catalog_ingest.storage import admin

    prefix = uuid.uuid4().hex[:8]
    stores = [f"{prefix}-{n}" for n in range(count)]
    with svc.db.write() as conn:
        retailer_id = admin.create_retailer(conn, f"Oracle {prefix}")
        for store in stores:
            admin.add_store(conn, retailer_id, store)
    return retailer_id, stores


def random_item(rng: random.Random, stores: Sequence[str]) -> dict[str, Any]:
    """An item of the universe that passes the request model; any rule may reject it.

    Each SKU mostly keeps its "own" barcode and usual values, so that items are updated,
    left unchanged and fought over, rather than rejected at random.
    """
    def barcode(field: dict[str, Any], code: str, right: str | None) -> dict[str, Any]:
        kind = rng.choice([right, right, right, right, None, None, rng.choice(TYPES)])
        field["external_product_id"] = code
        if kind is not None:
            field["external_product_id_type"] = kind
        return field

    index = rng.randrange(len(SKUS))
    code, right = POOL[index] if rng.random() < 0.7 else rng.choice(POOL)
    out = barcode({"item_sku": SKUS[index], "store_id": rng.choice(stores),
                   "item_name": rng.choice(["Milk"] * 5 + ["Bread", "Bread", " "])}, code, right)
    for name, values in (("standard_price", [None] * 3 + ["1.50"] * 3 + ["-1"]),
                         ("brand_name", [None, "Acme"]), ("color", [None] * 5 + ["red"])):
        value = rng.choice(values)
        if value is not None:
            out[name] = value
    extras = [barcode({}, *rng.choice(POOL)) for _ in range(rng.choice([0, 0, 0, 0, 1, 2]))]
    if extras:
        out[EXTRAS] = extras
    return out


Op = tuple[str, list[Any]]  # ("upload", items) or ("archive", skus)


def random_ops(rng: random.Random, stores: Sequence[str], count: int, *,
               spread: bool = False) -> list[Op]:
    """Uploads of 1-6 items (SKUs repeat) and archives of 1-3 SKUs (repeats too), mixed.

    Items and archives are often sent again as they were, as real feeds do: that is what
    makes UNCHANGED, reactivation and ALREADY_ARCHIVED happen. With `spread`, each upload's
    items are in a random subset of the stores (often one store), so that uploads with
    disjoint store sets, which workers may process at the same time, are common.
    """
    ops: list[Op] = []
    sent: list[dict[str, Any]] = []
    archives: list[list[str]] = []
    for _ in range(count):
        if rng.random() < 0.25:
            skus = (list(rng.choice(archives)) if archives and rng.random() < 0.4 else
                    [rng.choice(SKUS) for _ in range(rng.randint(1, 3))])
            archives.append(skus)
            ops.append(("archive", skus))
            continue
        items = []
        subset = rng.sample(list(stores), rng.randint(1, len(stores))) if spread else stores
        for _ in range(rng.randint(1, 6)):
            candidates = [i for i in sent if i["store_id"] in subset]
            if candidates and rng.random() < 0.4:
                item = dict(rng.choice(candidates))
                if rng.random() < 0.5:
                    item["item_name"] = rng.choice(["Milk", "Bread", "Cheese"])
            else:
                item = random_item(rng, subset)
            items.append(item)
            sent.append(item)
        ops.append(("upload", items))
    return ops


def accept_op(svc: Runtime, retailer_id: str, stores: Sequence[str], op: Op) -> str:
    if op[0] == "archive":
        return accept_archive(svc, retailer_id, op[1], stores)
    return accept_upload(svc, retailer_id, op[1])


def expect_op(oracle: CatalogOracle, stores: Sequence[str], op: Op) -> tuple[
        list[Result], dict[str, int]]:
    """The oracle's report entries and summary for one operation, applied to `oracle`."""
    if op[0] == "archive":
        results = oracle.archive(op[1], stores)
        return sorted(results, key=lambda r: (r[0], r[2] or "")), archive_summary(
            results, len(op[1]))
    results = oracle.upload(op[1])
    return results, upload_summary(results)


# --- the real engine's side ---------------------------------------------------------------


def accept_upload(svc: Runtime, retailer_id: str, items: Sequence[Mapping[str, Any]]) -> str:
    """Queue an upload straight through intake (as the upload handler does after its checks)."""
    body = json.dumps({"catalogItems": list(items)}).encode()
    stores = list(dict.fromkeys(str(i["store_id"]) for i in items))
    return intake.accept(svc, retailer_id=retailer_id, kind=UploadKind.UPLOAD, body=body,
                         item_count=len(items), store_ids=stores, idempotency_key=None)


def accept_archive(svc: Runtime, retailer_id: str, skus: Sequence[str],
                   stores: Sequence[str]) -> str:
    body = json.dumps({"itemSkus": list(skus), "allApplicableStores": list(stores)}).encode()
    return intake.accept(svc, retailer_id=retailer_id, kind=UploadKind.ARCHIVE, body=body,
                         item_count=len(skus), store_ids=list(stores), idempotency_key=None)


def stored_report(svc: Runtime, ingestion_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(svc.blobs.get(report_key(ingestion_id)))
    return doc


def catalog_rows(svc: Runtime, stores: Sequence[str]) -> dict[tuple[str, str], Row]:
    """The items table for these stores, in the oracle's form."""
    i = tables.items.c
    query = select(i.store_id, i.item_sku, i.external_product_id, i.item_name,
                   i.external_product_id_type, i.standard_price, i.brand_name,
                   i.product_tax_code, i.product_category, i.product_subcategory,
                   i.additional_ids, i.active).where(i.store_id.in_(list(stores)))
    with svc.db.read() as conn:
        rows = conn.execute(query).all()
    return {(r[0], r[1]): (*r[2:10], tuple((e[0], e[1]) for e in json.loads(r[10] or "[]")),
                           bool(r[11])) for r in rows}


def catalog_barcodes(svc: Runtime, stores: Sequence[str]) -> dict[tuple[str, str], str]:
    b = tables.barcodes.c
    with svc.db.read() as conn:
        rows = conn.execute(select(b.store_id, b.barcode, b.item_sku)
                            .where(b.store_id.in_(list(stores)))).all()
    return {(r[0], r[1]): r[2] for r in rows}


def post(client: TestClient, tenant: Tenant, path: str, body: Any) -> httpx.Response:
    resp: httpx.Response = client.post(path, content=json.dumps(body).encode(), auth=tenant.auth,
                                       headers={"content-type": "application/json"})
    return resp


def submit(client: TestClient, tenant: Tenant, items: Sequence[Mapping[str, Any]]) -> str:
    resp = post(client, tenant, "/v1/catalog/upload", {"catalogItems": list(items)})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ingestionId"])


def submit_archive(client: TestClient, tenant: Tenant, skus: Sequence[str]) -> str:
    body = {"itemSkus": list(skus), "allApplicableStores": tenant.stores}
    resp = post(client, tenant, "/v1/catalog/archive", body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ingestionId"])


def report_link(client: TestClient, tenant: Tenant, ingestion_id: str) -> str:
    resp = post(client, tenant, "/v1/catalog/getCatalogUploadStatus", {"ingestionId": ingestion_id})
    assert resp.status_code == 200, resp.text
    link = resp.json()["reportDownloadLink"]
    assert link, resp.json()
    return str(link)


def download_report(client: TestClient, tenant: Tenant, ingestion_id: str) -> dict[str, Any]:
    """The report behind the status call's link, fetched as a client would."""
    resp = client.get(report_link(client, tenant, ingestion_id))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    doc: dict[str, Any] = resp.json()
    assert doc["ingestionId"] == ingestion_id
    return doc
