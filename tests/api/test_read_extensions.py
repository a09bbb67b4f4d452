"""Wire contract of the read extensions: listCatalogUploads, getCatalogItems, listCatalogItems,
lookupBarcode — shapes, errors, tenancy, and tamper-proof page tokens stable under writes."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.settings import Settings
from tests.support.contract import expect
from tests.support.tenants import Tenant, item

UPLOAD = "/v1/catalog/upload"
ARCHIVE = "/v1/catalog/archive"
CANCEL = "/v1/catalog/cancelCatalogUpload"
LIST_UPLOADS = "/v1/catalog/listCatalogUploads"
GET_ITEMS = "/v1/catalog/getCatalogItems"
LIST_ITEMS = "/v1/catalog/listCatalogItems"
LOOKUP = "/v1/catalog/lookupBarcode"
INVALID = {"message": "Invalid request body"}
UNKNOWN_STORE = {"errorMsg": "One or more StoreID's present in the request is incorrect"}
NO_MATCH = {"errorMsg": "No catalog item has this barcode in this store"}
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    secret_key=b"test-secret-key-0123456789abcdef", rate_limit="100000/second")


def upc(n: int) -> str:
    body = f"{n:011d}"
    return body + str(gs1_check_digit(body))


def post(client: TestClient, tenant: Tenant, path: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, auth=tenant.auth,
                       headers={"content-type": "application/json"})



def submit(client: TestClient, tenant: Tenant, items: list[dict[str, Any]]) -> str:
    return str(expect(post(client, tenant, UPLOAD, {"catalogItems": items}), 201)["ingestionId"])


def apply(client: TestClient, svc: Runtime, tenant: Tenant, items: list[dict[str, Any]]) -> str:
    ingestion_id = submit(client, tenant, items)
    drain(svc)
    return ingestion_id


def list_all(client: TestClient, tenant: Tenant, store: str, page: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    body: dict[str, Any] = {"store_id": store, "maxResults": page}
    while True:
        answer = expect(post(client, tenant, LIST_ITEMS, body), 200)
        out.extend(answer["catalogItems"])
        if "nextToken" not in answer:
            return out
        assert len(answer["catalogItems"]) == page
        body = {**body, "nextToken": answer["nextToken"]}


FULL = item("sku-full", upc(1), "store-01", "Crème \"fraîche\", 200g",
            external_product_id_type="UPC", standard_price="2.490", brand_name="Ferme",
            product_tax_code="A_GEN_TAX",
            product_category="Dairy", product_subcategory="Cream",
            additional_external_product_information=[
                {"external_product_id": upc(2), "external_product_id_type": "UPC"},
                {"external_product_id": upc(3)}])
BARE = item("sku-bare", upc(4), "store-01")


def test_get_items_shape_order_and_missing(client: TestClient, svc: Runtime,
                                           tenant: Tenant) -> None:
    ingestion_id = apply(client, svc, tenant, [FULL, BARE])
    answer = expect(post(client, tenant, GET_ITEMS, {
        "store_id": "store-01", "item_skus": ["sku-bare", "nope", "sku-full", "sku-bare"]}), 200)
    bare, full = answer["catalogItems"]
    for found in (bare, full):
        assert ISO_MS.fullmatch(found.pop("updatedAt"))
        assert found.pop("ingestionId") == ingestion_id
        assert found.pop("status") == "ACTIVE"
    assert bare == BARE
    assert full == {**FULL, "additional_external_product_information": [
        {"external_product_id": upc(2), "external_product_id_type": "UPC"},
        {"external_product_id": upc(3)}]}
    # Another store of the same retailer does not have them.
    expect(post(client, tenant, GET_ITEMS, {"store_id": "store-02", "item_skus": ["sku-full"]}),
           200, {"catalogItems": []})


def test_archived_items_are_listed_but_do_not_answer_lookups(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    apply(client, svc, tenant, [FULL, BARE])
    found = expect(post(client, tenant, LOOKUP, {"store_id": "store-01",
                                                 "external_product_id": upc(3)}), 200)
    assert found["catalogItem"]["item_sku"] == "sku-full"
    archive = expect(post(client, tenant, ARCHIVE, {
        "itemSkus": ["sku-full"], "allApplicableStores": ["store-01", "store-02"]}), 201)
    drain(svc)
    for code in (upc(1), upc(2), upc(3)):
        expect(post(client, tenant, LOOKUP, {"store_id": "store-01",
                                             "external_product_id": code}), 404, NO_MATCH)
    expect(post(client, tenant, LOOKUP, {"store_id": "store-01",
                                         "external_product_id": "000000000000"}), 404, NO_MATCH)
    listed = {i["item_sku"]: i for i in list_all(client, tenant, "store-01", 100)}
    assert listed["sku-full"]["status"] == "ARCHIVED"
    assert listed["sku-full"]["ingestionId"] == archive["ingestionId"]
    assert listed["sku-bare"]["status"] == "ACTIVE"
    got = expect(post(client, tenant, GET_ITEMS, {"store_id": "store-01",
                                                  "item_skus": ["sku-full"]}), 200)
    assert got["catalogItems"][0]["status"] == "ARCHIVED"
    # Uploading it again makes it live and findable again.
    again = apply(client, svc, tenant, [FULL])
    found = expect(post(client, tenant, LOOKUP, {"store_id": "store-01",
                                                 "external_product_id": upc(2)}), 200)
    assert (found["catalogItem"]["status"], found["catalogItem"]["ingestionId"]) == (
        "ACTIVE", again)


def test_list_items_pages_in_sku_order(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    items = [item(f"sku-{n:03d}", upc(100 + n), "store-01") for n in (7, 3, 24, *range(25))]
    apply(client, svc, tenant, list({i["item_sku"]: i for i in items}.values()))
    listed = list_all(client, tenant, "store-01", 10)
    assert [i["item_sku"] for i in listed] == [f"sku-{n:03d}" for n in range(25)]
    assert list_all(client, tenant, "store-01", 1000) == listed
    first = expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-01"}), 200)
    assert len(first["catalogItems"]) == 25 and "nextToken" not in first
    expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-02"}), 200, {"catalogItems": []})


def test_pages_are_stable_while_uploads_are_applied(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    apply(client, svc, tenant, [item(f"sku-{n:03d}", upc(200 + n), "store-01")
                                for n in range(0, 40, 2)])
    page = expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-01", "maxResults": 5}), 200)
    seen = [i["item_sku"] for i in page["catalogItems"]]
    token = page["nextToken"]
    # Between pages: new SKUs before and after the cursor, an update, an archive.
    apply(client, svc, tenant, [item(f"sku-{n:03d}", upc(200 + n), "store-01")
                                for n in (1, 3, 21, 39)]
          + [item("sku-030", upc(230), "store-01", "Renamed")])
    expect(post(client, tenant, ARCHIVE, {"itemSkus": ["sku-032"],
                                          "allApplicableStores": ["store-01", "store-02"]}), 201)
    drain(svc)
    rest: list[dict[str, Any]] = []
    while token:
        page = expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-01", "maxResults": 5,
                                                        "nextToken": token}), 200)
        rest.extend(page["catalogItems"])
        token = page.get("nextToken")
    skus = seen + [i["item_sku"] for i in rest]
    assert len(skus) == len(set(skus))
    assert skus == sorted(skus)
    expected_after = [f"sku-{n:03d}" for n in (*range(10, 40, 2), 21, 39)]
    assert [i["item_sku"] for i in rest] == sorted(expected_after)
    by_sku = {i["item_sku"]: i for i in rest}
    assert by_sku["sku-030"]["item_name"] == "Renamed"
    assert by_sku["sku-032"]["status"] == "ARCHIVED"


def _first_token(client: TestClient, tenant: Tenant, store: str) -> str:
    page = expect(post(client, tenant, LIST_ITEMS, {"store_id": store, "maxResults": 1}), 200)
    return str(page["nextToken"])


def _altered(token: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    out = [token[:-1], token + "A", token + "=", token + "\n", " " + token, "", "x", token[::-1]]
    for index in (0, 5, 12, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        out.append(base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode())
    swap = "B" if token[-1] != "B" else "C"
    out.append(token[:-1] + swap)
    return [t for t in out if t != token]


def test_page_tokens_are_tamper_proof(client: TestClient, svc: Runtime, tenant: Tenant,
                                      other_tenant: Tenant) -> None:
    apply(client, svc, tenant, [item(f"sku-{n}", upc(300 + n), s)
                                for n in range(3) for s in ("store-01", "store-02")])
    apply(client, svc, other_tenant, [item(f"sku-{n}", upc(300 + n), "other-01")
                                      for n in range(3)])
    token = _first_token(client, tenant, "store-01")
    for bad in _altered(token):
        body = {"store_id": "store-01", "maxResults": 1, "nextToken": bad}
        expect(post(client, tenant, LIST_ITEMS, body), 400, INVALID)
    # A genuine token is refused for another store, another retailer, another listing.
    expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-02", "nextToken": token}),
           400, INVALID)
    foreign = _first_token(client, other_tenant, "other-01")
    expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-01", "nextToken": foreign}),
           400, INVALID)
    expect(post(client, other_tenant, LIST_ITEMS, {"store_id": "other-01", "nextToken": token}),
           400, INVALID)
    expect(post(client, tenant, LIST_UPLOADS, {"nextToken": token}), 400, INVALID)
    # The genuine token still works, and yields exactly the rest.
    rest = expect(post(client, tenant, LIST_ITEMS, {"store_id": "store-01", "nextToken": token}),
                  200)
    assert [i["item_sku"] for i in rest["catalogItems"]] == ["sku-1", "sku-2"]


def test_unknown_or_foreign_store(client: TestClient, svc: Runtime, tenant: Tenant,
                                  other_tenant: Tenant) -> None:
    apply(client, svc, other_tenant, [item("sku-x", upc(400), "other-01")])
    for store in ("nope", "other-01"):
        for path, body in ((GET_ITEMS, {"store_id": store, "item_skus": ["sku-x"]}),
                           (LIST_ITEMS, {"store_id": store}),
                           (LOOKUP, {"store_id": store, "external_product_id": upc(400)})):
            expect(post(client, tenant, path, body), 400, UNKNOWN_STORE)


@pytest.mark.parametrize(("path", "body"), [
    (LIST_UPLOADS, []), (LIST_UPLOADS, {"maxResults": 0}), (LIST_UPLOADS, {"maxResults": 101}),
    (LIST_UPLOADS, {"maxResults": "5"}), (LIST_UPLOADS, {"processingStatus": "done"}),
    (LIST_UPLOADS, {"nextToken": 5}), (LIST_UPLOADS, {"nextToken": "A" * 2049}),
    (GET_ITEMS, {"store_id": "store-01"}), (GET_ITEMS, {"store_id": "store-01", "item_skus": []}),
    (GET_ITEMS, {"store_id": "store-01", "item_skus": [f"s{n}" for n in range(101)]}),
    (GET_ITEMS, {"store_id": "", "item_skus": ["a"]}),
    (GET_ITEMS, {"store_id": "store-01", "item_skus": ["x" * 256]}),
    (LIST_ITEMS, {}), (LIST_ITEMS, {"store_id": "store-01", "maxResults": 1001}),
    (LIST_ITEMS, {"store_id": "store-01", "maxResults": True}),
    (LOOKUP, {"store_id": "store-01"}),
    (LOOKUP, {"store_id": "store-01", "external_product_id": 1}),
    (LOOKUP, b"{"), (LOOKUP, {"store_id": "s\u0000", "external_product_id": "1"}),
])
def test_request_model(client: TestClient, tenant: Tenant, path: str, body: Any) -> None:
    expect(post(client, tenant, path, body), 400, INVALID)


@pytest.mark.parametrize("path", [LIST_UPLOADS, GET_ITEMS, LIST_ITEMS, LOOKUP])
def test_unsigned_is_refused(client: TestClient, path: str) -> None:
    resp = client.post(path, json={"store_id": "store-01"})
    expect(resp, 403, {"message": "Missing Authentication Token"})


def test_list_uploads_newest_first_with_filter_and_cancel(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    done = apply(client, svc, tenant, [item("sku-1", upc(500), "store-01")])
    submit(client, other_tenant, [item("sku-1", upc(500), "other-01")])
    cancelled = submit(client, tenant, [item("sku-2", upc(501), "store-01")])
    expect(post(client, tenant, CANCEL, {"ingestionId": cancelled}), 200,
           {"processingStatus": "CANCELLED"})
    queued = [submit(client, tenant, [item(f"sku-q{n}", upc(510 + n), "store-02")])
              for n in range(3)]
    answer = expect(post(client, tenant, LIST_UPLOADS, {}), 200)
    assert "nextToken" not in answer
    listed = answer["catalogUploads"]
    assert [u["ingestionId"] for u in listed] == [*reversed(queued), cancelled, done]
    assert listed[0] == {**listed[0], "processingStatus": "INQUEUE", "completedAt": None,
                         "itemCount": 1, "storeIds": ["store-02"]}
    assert set(listed[0]) == {"ingestionId", "processingStatus", "submittedAt", "completedAt",
                              "itemCount", "storeIds"}
    assert listed[3]["processingStatus"] == "CANCELLED"
    assert listed[4]["processingStatus"] == "DONE"
    assert ISO_MS.fullmatch(listed[4]["completedAt"]) and ISO_MS.fullmatch(listed[4]["submittedAt"])
    # Pages of two, then the filter (whose token is bound to the filter).
    page = expect(post(client, tenant, LIST_UPLOADS, {"maxResults": 2}), 200)
    ids = [u["ingestionId"] for u in page["catalogUploads"]]
    while "nextToken" in page:
        page = expect(post(client, tenant, LIST_UPLOADS, {"maxResults": 2,
                                                          "nextToken": page["nextToken"]}), 200)
        ids += [u["ingestionId"] for u in page["catalogUploads"]]
    assert ids == [u["ingestionId"] for u in listed]
    inq = expect(post(client, tenant, LIST_UPLOADS, {"maxResults": 2,
                                                     "processingStatus": "INQUEUE"}), 200)
    assert [u["ingestionId"] for u in inq["catalogUploads"]] == queued[:0:-1]
    expect(post(client, tenant, LIST_UPLOADS, {"processingStatus": "DONE",
                                               "nextToken": inq["nextToken"]}), 400, INVALID)
    expect(post(client, tenant, LIST_UPLOADS, {"processingStatus": "CANCELLED"}), 200,
           {"catalogUploads": [listed[3]]})
    # The cancelled upload applied nothing, even after the queue is drained.
    drain(svc)
    expect(post(client, tenant, GET_ITEMS, {"store_id": "store-01", "item_skus": ["sku-2"]}), 200,
           {"catalogItems": []})
    expect(post(client, tenant, CANCEL, {"ingestionId": queued[0]}), 409,
           {"errorMsg": "Catalog upload is DONE and can no longer be cancelled"})
