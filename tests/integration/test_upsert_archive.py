"""Upsert by SKU, barcode release, acceptance order and archive, through the real engine."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.integration.oracle import (
    EXTRAS,
    catalog_barcodes,
    catalog_rows,
    comparable,
    download_report,
    submit,
    submit_archive,
)
from tests.support.tenants import Tenant, item

UPC_A, UPC_B, UPC_C = "012345678905", "036000291452", "000000000017"
EAN_A, EAN_B, EAN8 = "4006381333931", "5901234123457", "96385074"
S1, S2 = "store-01", "store-02"
EXTRA_IDS = [{"external_product_id": EAN_A, "external_product_id_type": "EAN"},
             {"external_product_id": EAN8}]
FULL: dict[str, object] = {
    "external_product_id_type": "UPC", "standard_price": "4.990", "brand_name": "Acme",
    "product_tax_code": "A_GEN_TAX", "product_category": "Food", "product_subcategory": "Snacks",
    EXTRAS: EXTRA_IDS}


def actions(client: TestClient, tenant: Tenant, ingestion_id: str) -> list[tuple[Any, ...]]:
    """(sku, store, status, action, error codes) of each report entry, in report order."""
    doc = download_report(client, tenant, ingestion_id)
    assert doc["processingStatus"] == "DONE"
    return [(r["item_sku"], r["store_id"], r["status"], r["action"],
             [i["code"] for i in r["issues"] if i["severity"] == "ERROR"])
            for r in doc["itemResults"]]


def ok(sku: str, store: str, action: str) -> tuple[Any, ...]:
    return (sku, store, "ACCEPTED", action, [])


def test_upsert_created_unchanged_updated_and_absent_fields_become_empty(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    full = {**item("A", UPC_A, S1, "Crisps"), **FULL}
    first = submit(client, tenant, [full])
    # The same values again, an absent optional attribute now given as null: nothing changed.
    nulls = [EXTRA_IDS[0], {"external_product_id": EAN8, "external_product_id_type": None}]
    same = submit(client, tenant, [{**full, EXTRAS: nulls}])
    assert drain(svc) == ["DONE"] * 2
    assert actions(client, tenant, first) == [ok("A", S1, "CREATED")]
    assert actions(client, tenant, same) == [ok("A", S1, "UNCHANGED")]
    assert catalog_rows(svc, [S1]) == {(S1, "A"): (
        UPC_A, "Crisps", "UPC", "4.990", "Acme", "A_GEN_TAX", "Food", "Snacks",
        ((EAN_A, "EAN"), (EAN8, None)), True)}
    assert catalog_barcodes(svc, [S1]) == {(S1, UPC_A): "A", (S1, EAN_A): "A", (S1, EAN8): "A"}
    bare = submit(client, tenant, [item("A", UPC_B, S1, "Crisps")])
    assert drain(svc) == ["DONE"]
    assert actions(client, tenant, bare) == [ok("A", S1, "UPDATED")]
    assert catalog_rows(svc, [S1]) == {
        (S1, "A"): (UPC_B, "Crisps", None, None, None, None, None, None, (), True)}
    assert catalog_barcodes(svc, [S1]) == {(S1, UPC_B): "A"}


def test_released_barcodes_can_be_taken_later_in_the_upload_and_in_later_uploads(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    submit(client, tenant, [{**item("A", UPC_A, S1), **FULL}])
    moved = submit(client, tenant, [
        item("B", EAN_A, S1),                 # still A's: conflict
        {**item("A", UPC_B, S1), EXTRAS: [{"external_product_id": EAN_B}]},  # releases 3
        item("C", EAN_A, S1),                 # released just before: fine
        item("D", UPC_A, S2),                 # another store: always fine
    ])
    later = submit(client, tenant, [item("E", UPC_A, S1), item("F", EAN8, S1),
                                    item("G", EAN_B, S1)])
    assert drain(svc) == ["DONE"] * 3
    assert actions(client, tenant, moved) == [
        ("B", S1, "REJECTED", None, ["BARCODE_CONFLICT"]), ok("A", S1, "UPDATED"),
        ok("C", S1, "CREATED"), ok("D", S2, "CREATED")]
    assert actions(client, tenant, later) == [
        ok("E", S1, "CREATED"), ok("F", S1, "CREATED"),
        ("G", S1, "REJECTED", None, ["BARCODE_CONFLICT"])]
    assert catalog_barcodes(svc, [S1, S2]) == {
        (S1, UPC_B): "A", (S1, EAN_B): "A", (S1, EAN_A): "C", (S1, UPC_A): "E", (S1, EAN8): "F",
        (S2, UPC_A): "D"}


def test_uploads_are_processed_in_acceptance_order_and_the_later_one_wins(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    ids = [
        submit(client, tenant, [item("A", UPC_A, S1, "one")]),
        submit(client, other_tenant, [item("A", UPC_A, "other-01", "theirs")]),
        submit(client, tenant, [item("A", UPC_B, S1, "two")]),   # gives UPC_A up...
        submit(client, tenant, [item("B", UPC_A, S1, "bee")]),   # ...so B may take it
        submit(client, tenant, [item("A", UPC_B, S1, "three"), item("A", UPC_C, S1, "dup")]),
    ]
    assert drain(svc) == ["DONE"] * 5
    assert [actions(client, tenant, i) for i in (ids[0], *ids[2:])] == [
        [ok("A", S1, "CREATED")], [ok("A", S1, "UPDATED")], [ok("B", S1, "CREATED")],
        [ok("A", S1, "UPDATED"), ("A", S1, "REJECTED", None, ["DUPLICATE_SKU_IN_UPLOAD"])]]
    assert actions(client, other_tenant, ids[1]) == [ok("A", "other-01", "CREATED")]
    rows = catalog_rows(svc, [S1, "other-01"])
    assert {k: v[:2] for k, v in rows.items()} == {
        (S1, "A"): (UPC_B, "three"), (S1, "B"): (UPC_A, "bee"),
        ("other-01", "A"): (UPC_A, "theirs")}
    with svc.db.read() as conn:
        done = sorted((u for r in (tenant, other_tenant)
                       for u in uploads.list_uploads(conn, r.retailer_id, 100, None, None)),
                      key=lambda u: u.seq)
    assert [u.ingestion_id for u in done] == ids
    started = [u.started_at or 0.0 for u in done]
    completed = [u.completed_at or 0.0 for u in done]
    assert started == sorted(started) and completed == sorted(completed)


def test_archive_per_store_not_found_already_archived_release_and_reactivation(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    submit(client, tenant, [item("A", UPC_A, S1), item("A", UPC_A, S2), item("B", EAN_A, S1),
                            item("C", EAN_B, S2)])
    submit_archive(client, tenant, ["C"])
    archived = submit_archive(client, tenant, ["A", "B", "C", "Z", "A"])
    taken = submit(client, tenant, [item("D", UPC_A, S1), item("B", EAN_A, S1),
                                    item("A", UPC_A, S1)])
    assert drain(svc) == ["DONE"] * 4
    doc = download_report(client, tenant, archived)
    assert comparable(doc["itemResults"]) == [
        (0, "A", S1, "ACCEPTED", "ARCHIVED", ()), (0, "A", S2, "ACCEPTED", "ARCHIVED", ()),
        (1, "B", S1, "ACCEPTED", "ARCHIVED", ()),
        (2, "C", S2, "REJECTED", None, (("ERROR", "ALREADY_ARCHIVED"),)),
        (3, "Z", None, "REJECTED", None, (("ERROR", "SKU_NOT_FOUND"),)),
        (4, "A", None, "REJECTED", None, (("ERROR", "DUPLICATE_SKU_IN_UPLOAD"),))]
    assert doc["summary"] == {"itemsReceived": 5, "itemsAccepted": 2, "itemsRejected": 3,
                              "itemsCreated": 0, "itemsUpdated": 0, "itemsUnchanged": 0,
                              "warnings": 0, "itemsArchived": 3}
    # A's UPC_A was released in store-01 by the archive: D takes it, so reviving A conflicts.
    assert actions(client, tenant, taken) == [
        ok("D", S1, "CREATED"), ok("B", S1, "CREATED"),
        ("A", S1, "REJECTED", None, ["BARCODE_CONFLICT"])]
    assert {k: v[-1] for k, v in catalog_rows(svc, [S1, S2]).items()} == {
        (S1, "A"): False, (S2, "A"): False, (S1, "B"): True, (S2, "C"): False, (S1, "D"): True}
    assert catalog_barcodes(svc, [S1, S2]) == {(S1, UPC_A): "D", (S1, EAN_A): "B"}


def test_reactivated_item_is_created_with_its_values_and_archived_items_hold_no_barcodes(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    submit(client, tenant, [{**item("A", UPC_A, S1), **FULL}])
    submit_archive(client, tenant, ["A"])
    assert drain(svc) == ["DONE", "DONE"]
    assert catalog_barcodes(svc, [S1]) == {}
    row = catalog_rows(svc, [S1])[(S1, "A")]
    assert (row[0], row[-1]) == (UPC_A, False)
    # Identical values: still CREATED, because the item was not live.
    revived = submit(client, tenant, [{**item("A", UPC_A, S1), **FULL}])
    assert drain(svc) == ["DONE"]
    assert actions(client, tenant, revived) == [ok("A", S1, "CREATED")]
    assert catalog_rows(svc, [S1])[(S1, "A")] == (*row[:-1], True)
    assert catalog_barcodes(svc, [S1]) == {(S1, UPC_A): "A", (S1, EAN_A): "A", (S1, EAN8): "A"}
