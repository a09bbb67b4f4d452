"""Wire contract of POST /v1/catalog/upload: request model, store checks, 201, Idempotency-Key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.support.contract import expect
from tests.support.tenants import Tenant, item

UPLOAD = "/v1/catalog/upload"
INVALID = {"message": "Invalid request body"}
UNKNOWN_STORES = {"errorMsg": "One or more StoreID's present in the request is incorrect"}
MIXED_STORES = {"errorMsg": "List of store ID's present in the request are either "
                            "incorrect/not associated with same retailer"}
KEY_REUSED = {"errorMsg": "Idempotency-Key was already used with a different request body"}
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DROP = object()
GOOD = item("sku-1", "012345678905", "store-01", external_product_id_type="UPC")


def post(client: TestClient, tenant: Tenant, body: bytes | Any,
         headers: dict[str, str] | None = None, path: str = UPLOAD) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    resp: httpx.Response = client.post(path, content=content, auth=tenant.auth,
                                       headers=all_headers)
    return resp



def upload_rows(svc: Runtime, retailer_id: str) -> list[uploads.Upload]:
    with svc.db.read() as conn:
        return uploads.list_uploads(conn, retailer_id, 100_000, None, None)


def changed(**changes: Any) -> dict[str, Any]:
    """GOOD with fields replaced; DROP removes one."""
    result = {k: v for k, v in GOOD.items() if changes.get(k) is not DROP}
    result.update({k: v for k, v in changes.items() if v is not DROP})
    return result


def items_body(*items: Any) -> dict[str, Any]:
    return {"catalogItems": list(items)}


def _many(n: int) -> dict[str, Any]:
    return items_body(*(item(f"sku-{i}", "012345678905", "store-01") for i in range(n)))


def _extra_ids(n: int) -> dict[str, Any]:
    ids = [{"external_product_id": "4006381333931"} for _ in range(n)]
    return items_body(changed(additional_external_product_information=ids))


def _field(name: str, value: Any) -> Callable[[], Any]:
    return lambda: items_body(changed(**{name: value}))


REQUIRED = ("item_sku", "external_product_id", "item_name", "store_id")
OPTIONAL = ("external_product_id_type", "standard_price", "brand_name", "product_tax_code",
            "product_category", "product_subcategory")
GOOD_JSON = json.dumps(items_body(GOOD)).encode()

# Each case is built lazily so the 10,001-item body is only made when its test runs.
MODEL_CASES: dict[str, Callable[[], bytes | Any]] = {
    "not-json": lambda: b"{",
    "empty-body": lambda: b"",
    "trailing-garbage": lambda: GOOD_JSON + b" x",
    "body-array": lambda: [items_body(GOOD)],
    "body-string": lambda: "catalogItems",
    "body-null": lambda: None,
    "body-number": lambda: 1,
    "catalogItems-missing": lambda: {"items": [GOOD]},
    "catalogItems-null": lambda: {"catalogItems": None},
    "catalogItems-object": lambda: {"catalogItems": GOOD},
    "catalogItems-string": lambda: {"catalogItems": "sku-1"},
    "catalogItems-empty": lambda: {"catalogItems": []},
    "catalogItems-10001": lambda: _many(10_001),
    "item-number": lambda: items_body(1),
    "item-string": lambda: items_body("sku-1"),
    "item-null": lambda: items_body(None),
    "item-array": lambda: items_body([GOOD]),
    "second-item-bad": lambda: items_body(GOOD, changed(item_sku=DROP)),
    **{f"{f}-missing": _field(f, DROP) for f in REQUIRED},
    **{f"{f}-null": _field(f, None) for f in REQUIRED},
    **{f"{f}-empty": _field(f, "") for f in REQUIRED},
    **{f"{f}-256": _field(f, "x" * 256) for f in REQUIRED},
    **{f"{f}-number": _field(f, 12) for f in REQUIRED + OPTIONAL},
    **{f"{f}-object": _field(f, {"v": "x"}) for f in REQUIRED + OPTIONAL},
    "external_product_id-as-integer": lambda: items_body(changed(external_product_id=12345678905)),
    "item_name-bool": lambda: items_body(changed(item_name=True)),
    "store_id-array": lambda: items_body(changed(store_id=["store-01"])),
    "standard_price-float": lambda: items_body(changed(standard_price=4.99)),
    "standard_price-11-chars": lambda: items_body(changed(standard_price="12345678.90")),
    "brand_name-256": lambda: items_body(changed(brand_name="b" * 256)),
    "product_tax_code-256": lambda: items_body(changed(product_tax_code="t" * 256)),
    "external_product_id_type-256": lambda: items_body(changed(external_product_id_type="U" * 256)),
    "product_category-51": lambda: items_body(changed(product_category="c" * 51)),
    "product_subcategory-51": lambda: items_body(changed(product_subcategory="s" * 51)),
    "additional-ids-object": lambda: items_body(changed(
        additional_external_product_information={"external_product_id": "4006381333931"})),
    "additional-ids-strings": lambda: items_body(changed(
        additional_external_product_information=["4006381333931"])),
    "additional-ids-string": lambda: items_body(changed(
        additional_external_product_information="4006381333931")),
    "additional-ids-51": lambda: _extra_ids(51),
    "additional-id-without-id": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id_type": "EAN"}])),
    "additional-id-null-id": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": None}])),
    "additional-id-empty-id": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": ""}])),
    "additional-id-number": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": 4006381333931}])),
    "additional-id-256": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": "4" * 256}])),
    "additional-id-type-number": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": "4006381333931",
                                                   "external_product_id_type": 13}])),
    "invalid-utf8": lambda: GOOD_JSON.replace(b"Item sku-1", b"Item \xff\xfe sku-1"),
    "truncated-utf8": lambda: GOOD_JSON.replace(b"Item sku-1", b"Item \xe2\x82 sku-1"),
    "nul-in-name": lambda: items_body(changed(item_name="a\u0000b")),
    "nul-in-sku": lambda: items_body(changed(item_sku="\u0000")),
    "nul-in-brand": lambda: items_body(changed(brand_name="Acme\u0000")),
    "nul-in-additional-id": lambda: items_body(changed(
        additional_external_product_information=[{"external_product_id": "40\u000063"}])),
    "lone-surrogate": lambda: GOOD_JSON.replace(b"Item sku-1", b"Item \\ud800 sku-1"),
}


@SQLITE_ONLY
@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_request_model_violation_is_invalid_request_body(
        client: TestClient, svc: Runtime, tenant: Tenant, case: str) -> None:
    resp = post(client, tenant, MODEL_CASES[case]())
    expect(resp, 400, INVALID)
    assert upload_rows(svc, tenant.retailer_id) == []


def _at_limits() -> list[dict[str, Any]]:
    ids = [{"external_product_id": "4006381333931", "external_product_id_type": "EAN"}] * 50
    return [
        item("s" * 255, "0" * 255, "store-01", "n" * 255),
        item("sku-2", "012345678905", "store-01", "é€" * 127 + "x", brand_name="b" * 255,
             product_tax_code="t" * 255, standard_price="1234567.99", product_category="c" * 50,
             product_subcategory="s" * 50, external_product_id_type="UPC",
             additional_external_product_information=ids),
    ]


@SQLITE_ONLY
def test_every_limit_reached_but_not_exceeded_is_accepted(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    first = expect(post(client, tenant, items_body(*_at_limits())), 201)
    big = expect(post(client, tenant, _many(10_000)), 201)
    counts = {u.ingestion_id: u.item_count for u in upload_rows(svc, tenant.retailer_id)}
    assert counts == {first["ingestionId"]: 2, big["ingestionId"]: 10_000}


def test_accepted_upload_is_201_with_a_uuid4_and_queued(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    body = items_body(GOOD, item("sku-2", "4006381333931", "store-02"))
    answer = expect(post(client, tenant, body), 201)
    assert list(answer) == ["ingestionId"]
    assert uuid.UUID(answer["ingestionId"]).version == 4
    [row] = upload_rows(svc, tenant.retailer_id)
    assert (row.ingestion_id, row.status, row.item_count) == (answer["ingestionId"], "INQUEUE", 2)
    assert row.store_ids == ["store-01", "store-02"]
    assert svc.blobs.get(row.payload_key) == json.dumps(body).encode()


def test_unknown_attributes_are_accepted_and_reported_as_warnings(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    body = {"catalogItems": [changed(color="red", dimensions={"w": [1, 2]})], "batch": 7}
    answer = expect(post(client, tenant, body), 201)
    assert drain(svc) == ["DONE"]
    status = expect(post(client, tenant, answer, path="/v1/catalog/getCatalogUploadStatus"), 200)
    report = client.get(status["reportDownloadLink"]).json()
    [result] = report["itemResults"]
    assert result["status"] == "ACCEPTED"
    unknown = {i["field"] for i in result["issues"] if i["code"] == "UNKNOWN_ATTRIBUTE"}
    assert unknown == {"color", "dimensions"}


@pytest.mark.parametrize("stores, answer", [
    (["nowhere"], UNKNOWN_STORES),
    (["other-01"], UNKNOWN_STORES),
    (["store-01", "nowhere"], MIXED_STORES),
    (["store-01", "other-01"], MIXED_STORES),
    (["other-01", "nowhere"], UNKNOWN_STORES),
], ids=["unknown", "other-retailers", "own+unknown", "own+other-retailers", "other+unknown"])
def test_store_errors_are_seen_from_the_callers_retailer(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant,
        stores: list[str], answer: dict[str, str]) -> None:
    body = items_body(*(item(f"sku-{n}", "012345678905", s) for n, s in enumerate(stores)))
    expect(post(client, tenant, body), 400, answer)
    assert upload_rows(svc, tenant.retailer_id) == []
    assert upload_rows(svc, other_tenant.retailer_id) == []


@SQLITE_ONLY
def test_request_model_is_checked_before_stores(client: TestClient, tenant: Tenant) -> None:
    body = items_body(item("sku-1", "012345678905", "nowhere"), changed(item_name=""))
    expect(post(client, tenant, body), 400, INVALID)
    long_key = {"Idempotency-Key": "k" * 256}
    expect(post(client, tenant, items_body(changed(store_id="nowhere")), long_key), 400, INVALID)


def test_same_idempotency_key_and_body_returns_the_first_upload(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    key = {"Idempotency-Key": "retry-" + uuid.uuid4().hex}
    first = expect(post(client, tenant, items_body(GOOD), key), 201)
    again = expect(post(client, tenant, items_body(GOOD), key), 201)
    assert again == first
    assert len(upload_rows(svc, tenant.retailer_id)) == 1
    assert drain(svc) == ["DONE"]
    assert expect(post(client, tenant, items_body(GOOD), key), 201) == first
    assert [u.status for u in upload_rows(svc, tenant.retailer_id)] == ["DONE"]
    unkeyed = expect(post(client, tenant, items_body(GOOD)), 201)
    assert unkeyed != first


def test_same_idempotency_key_with_another_body_is_refused(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    key = {"Idempotency-Key": "k-1"}
    first = expect(post(client, tenant, items_body(GOOD), key), 201)
    other = items_body(changed(item_name="Renamed"))
    expect(post(client, tenant, other, key), 400, KEY_REUSED)
    [row] = upload_rows(svc, tenant.retailer_id)
    assert row.ingestion_id == first["ingestionId"]


def test_idempotency_keys_are_per_retailer(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    key = {"Idempotency-Key": "shared-key"}
    mine = expect(post(client, tenant, items_body(GOOD), key), 201)
    body = items_body(item("sku-1", "012345678905", "other-01"))
    theirs = expect(post(client, other_tenant, body, key), 201)
    assert mine != theirs
    assert [u.ingestion_id for u in upload_rows(svc, other_tenant.retailer_id)] == [
        theirs["ingestionId"]]
    assert [u.ingestion_id for u in upload_rows(svc, tenant.retailer_id)] == [mine["ingestionId"]]


@SQLITE_ONLY
def test_idempotency_key_length_limit(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    expect(post(client, tenant, items_body(GOOD), {"Idempotency-Key": "k" * 256}), 400, INVALID)
    assert upload_rows(svc, tenant.retailer_id) == []
    expect(post(client, tenant, items_body(GOOD), {"Idempotency-Key": "k" * 255}), 201)
    assert len(upload_rows(svc, tenant.retailer_id)) == 1
