"""Catalog search and one-item edit, archive and reactivate, through the real engine."""

from __future__ import annotations

import uuid

import pytest

from catalog_ingest.engine import catalog_search, item_edit
from catalog_ingest.engine.catalog_search import Query, barcode_spellings
from catalog_ingest.engine.worker import drain
from catalog_ingest.errors import NotFound
from catalog_ingest.runtime import Runtime
from tests.portal_engine.test_file_check import ean, seed
from tests.support.tenants import Tenant

UPC = "012345678905"


def test_barcode_spellings_normalise_scanner_and_spreadsheet_forms() -> None:
    assert UPC in barcode_spellings("12345678905")          # lost its leading zero
    assert UPC in barcode_spellings("0012345678905")        # as an EAN-13
    assert UPC in barcode_spellings(" 0 12345 67890 5 ")    # spaces from a label
    assert "00012345678905" in barcode_spellings(UPC)       # as a GTIN-14
    assert barcode_spellings("Apple") == []
    assert barcode_spellings("12") == []


@pytest.fixture
def catalog(svc: Runtime, tenant: Tenant) -> None:
    seed(svc, tenant, [f"{UPC_SKU},{UPC},Milk 1L,store-01,1\n",
                       *[f"S{n:03d},{ean(n)},{'Apple' if n % 2 else 'Pear'} {n},store-01,1\n"
                         for n in range(1, 121)]])


UPC_SKU = "MILK"


def skus(page: catalog_search.Page) -> list[str]:
    return [i["item_sku"] for i in page.items]


def test_search_by_scanned_barcode_sku_and_name(svc: Runtime, tenant: Tenant,
                                                 catalog: None) -> None:
    r = tenant.retailer_id
    assert skus(catalog_search.search(svc, r, Query("store-01", "12345678905"))) == [UPC_SKU]
    assert skus(catalog_search.search(svc, r, Query("store-01", "S01"))) == [
        f"S{n:03d}" for n in range(10, 20)]
    names = catalog_search.search(svc, r, Query("store-01", "milk"))
    assert skus(names) == [UPC_SKU] and names.matched == "text"


def test_pages_are_keyset_pages_to_the_end(svc: Runtime, tenant: Tenant, catalog: None) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = catalog_search.search(svc, tenant.retailer_id,
                                     Query("store-01", "", cursor=cursor), limit=50)
        seen += skus(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 121 and seen == sorted(seen)
    apples: list[str] = []
    cursor = None
    while True:
        page = catalog_search.search(svc, tenant.retailer_id,
                                     Query("store-01", "APPLE", cursor=cursor), limit=7)
        apples += skus(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(apples) == 60 and len(set(apples)) == 60


def test_another_retailers_store_is_not_found(svc: Runtime, tenant: Tenant,
                                              other_tenant: Tenant) -> None:
    with pytest.raises(NotFound):
        catalog_search.search(svc, tenant.retailer_id, Query("other-01"))
    with pytest.raises(NotFound):
        catalog_search.item_detail(svc, tenant.retailer_id, "other-01", "A")


def test_edit_checks_fields_then_uploads_one_item(svc: Runtime, tenant: Tenant,
                                                  catalog: None) -> None:
    r = tenant.retailer_id
    detail = catalog_search.item_detail(svc, r, "store-01", "S001")
    assert detail.item is not None
    version = detail.item["ingestionId"]
    form = item_edit.form_values(detail.item)
    bad = item_edit.save(svc, r, "store-01", "S001", {**form, "external_product_id": ean(2),
                                                       "standard_price": "-1"},
                         version, uuid.uuid4().hex)
    assert bad.ingestion_id is None
    assert set(bad.errors) == {"external_product_id", "standard_price"}
    assert "already belongs to SKU S002" in bad.errors["external_product_id"][0]
    same = item_edit.save(svc, r, "store-01", "S001", form, version, uuid.uuid4().hex)
    assert same.unchanged and same.ingestion_id is None
    nonce = uuid.uuid4().hex
    good = item_edit.save(svc, r, "store-01", "S001", {**form, "item_name": "Golden apple"},
                          version, nonce)
    twice = item_edit.save(svc, r, "store-01", "S001", {**form, "item_name": "Golden apple"},
                           version, nonce)
    assert good.ingestion_id is not None and twice.ingestion_id == good.ingestion_id
    assert drain(svc) == ["DONE"]
    after = catalog_search.item_detail(svc, r, "store-01", "S001").item
    assert after is not None and after["item_name"] == "Golden apple"
    assert after["ingestionId"] == good.ingestion_id
    with pytest.raises(item_edit.StaleForm):
        item_edit.save(svc, r, "store-01", "S001", form, version, uuid.uuid4().hex)


def test_archive_then_reactivate(svc: Runtime, tenant: Tenant, catalog: None) -> None:
    r = tenant.retailer_id
    item = catalog_search.item_detail(svc, r, "store-01", "S003").item
    assert item is not None
    assert item_edit.archive_scope(svc, r, "S003") == ["store-01"]
    item_edit.archive(svc, r, "store-01", "S003", item["ingestionId"], uuid.uuid4().hex)
    assert drain(svc) == ["DONE"]
    archived = catalog_search.item_detail(svc, r, "store-01", "S003").item
    assert archived is not None and archived["status"] == "ARCHIVED"
    listed = catalog_search.search(svc, r, Query("store-01", status="ARCHIVED"))
    assert skus(listed) == ["S003"]
    with pytest.raises(item_edit.StaleForm):
        item_edit.archive(svc, r, "store-01", "S003", archived["ingestionId"], uuid.uuid4().hex)
    back = item_edit.reactivate(svc, r, "store-01", "S003", archived["ingestionId"],
                                uuid.uuid4().hex)
    assert back.ingestion_id is not None
    assert drain(svc) == ["DONE"]
    live = catalog_search.item_detail(svc, r, "store-01", "S003").item
    assert live is not None and live["status"] == "ACTIVE"
    assert skus(catalog_search.search(svc, r, Query("store-01", ean(3)))) == ["S003"]
