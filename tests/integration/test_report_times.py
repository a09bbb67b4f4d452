"""A report's times are true: startedAt is the claim, completedAt comes after the last write."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.reports import iso
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables
from catalog_ingest.storage.catalog import CatalogRepo
from tests.integration.oracle import accept_upload, stored_report
from tests.support.tenants import Tenant

WRITES = ("upsert_items", "insert_barcodes", "delete_barcodes", "set_inactive",
          "upsert_rejections", "delete_rejections")


def ean13(serial: int) -> str:
    body = f"400{serial:09d}"
    return body + str(gs1_check_digit(body))


def test_completed_at_is_after_the_catalog_writes_and_started_at_is_the_claim(
        svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ends: list[float] = []
    claims: list[float] = []

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            write_ends.append(time.time())
            return result
        return wrapper

    for name in WRITES:
        monkeypatch.setattr(CatalogRepo, name, timed(getattr(CatalogRepo, name)))
    from catalog_ingest.storage import uploads

    claim_next = uploads.claim_next

    def claim(conn: Any, worker_id: str, lease: float, now: float) -> Any:
        claims.append(now)
        return claim_next(conn, worker_id, lease, now)

    monkeypatch.setattr(uploads, "claim_next", claim)
    # Enough items that the bulk writes take well over the reports' millisecond resolution.
    items = [{"item_sku": f"sku-{n}", "store_id": tenant.stores[n % 2], "item_name": "Milk",
              "external_product_id": ean13(n), "external_product_id_type": "EAN"}
             for n in range(3000)]
    ingestion_id = accept_upload(svc, tenant.retailer_id, items)
    assert drain(svc) == ["DONE"]
    doc = stored_report(svc, ingestion_id)
    u, i = tables.uploads.c, tables.items.c
    with svc.db.read() as conn:
        row = conn.execute(select(u.started_at, u.completed_at)
                           .where(u.ingestion_id == ingestion_id)).one()
        last_item_write = conn.execute(select(func.max(i.updated_at))).scalar_one()
    assert write_ends, "the catalog writes ran"
    last_write = max(write_ends)
    assert row.completed_at >= last_write >= last_item_write
    assert doc["completedAt"] == iso(row.completed_at)
    assert doc["completedAt"] >= iso(last_write)  # same ISO format: ordered as text
    assert doc["startedAt"] == iso(row.started_at) == iso(claims[0])
