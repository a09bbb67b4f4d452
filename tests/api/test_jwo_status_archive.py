"""Wire contract of getCatalogUploadStatus, cancelCatalogUpload and archive, with tenancy."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.engine.reports import payload_key
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.support.contract import expect
from tests.support.tenants import Tenant, item

UPLOAD = "/v1/catalog/upload"
STATUS = "/v1/catalog/getCatalogUploadStatus"
CANCEL = "/v1/catalog/cancelCatalogUpload"
ARCHIVE = "/v1/catalog/archive"
INVALID = {"message": "Invalid request body"}
BAD_PARAM = {"errorMsg": "API invoked with Invalid parameter"}
ALL_STORES = "allApplicableStores must list every store of the retailer: "
DROP = object()
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def post(client: TestClient, tenant: Tenant, path: str, body: bytes | Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp: httpx.Response = client.post(path, content=content, auth=tenant.auth,
                                       headers={"content-type": "application/json"})
    return resp



def submit(client: TestClient, tenant: Tenant, *items: dict[str, object]) -> str:
    answer = expect(post(client, tenant, UPLOAD, {"catalogItems": list(items)}), 201)
    return str(answer["ingestionId"])


def status_of(client: TestClient, tenant: Tenant, ingestion_id: str) -> dict[str, str]:
    answer: dict[str, str] = expect(post(client, tenant, STATUS, {"ingestionId": ingestion_id}),
                                    200)
    assert set(answer) == {"processingStatus", "reportDownloadLink"}
    return answer


def report(client: TestClient, tenant: Tenant, ingestion_id: str) -> dict[str, Any]:
    link = status_of(client, tenant, ingestion_id)["reportDownloadLink"]
    resp = client.get(link)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    assert body["ingestionId"] == ingestion_id
    return body


def upload_rows(svc: Runtime, retailer_id: str) -> list[uploads.Upload]:
    with svc.db.read() as conn:
        return uploads.list_uploads(conn, retailer_id, 100_000, None, None)


ITEM_A = item("sku-a", "012345678905", "store-01", external_product_id_type="UPC")
ITEM_B = item("sku-b", "4006381333931", "store-02", external_product_id_type="EAN")

ID_MODEL_CASES: dict[str, bytes | Any] = {
    "not-json": b"{", "empty-body": b"", "array": [], "string": "x", "null": None,
    "missing": {}, "misspelt": {"ingestionID": str(uuid.uuid4())},
    "null-id": {"ingestionId": None}, "number-id": {"ingestionId": 12},
    "array-id": {"ingestionId": [str(uuid.uuid4())]}, "object-id": {"ingestionId": {}},
    "bool-id": {"ingestionId": True}, "256-chars": {"ingestionId": "i" * 256},
    "invalid-utf8": b'{"ingestionId": "\xff"}', "nul": {"ingestionId": "a\u0000"},
}


@SQLITE_ONLY
@pytest.mark.parametrize("path", [STATUS, CANCEL], ids=["status", "cancel"])
@pytest.mark.parametrize("case", list(ID_MODEL_CASES))
def test_ingestion_id_request_model(client: TestClient, tenant: Tenant, path: str,
                                    case: str) -> None:
    expect(post(client, tenant, path, ID_MODEL_CASES[case]), 400, INVALID)


@pytest.mark.parametrize("path", [STATUS, CANCEL], ids=["status", "cancel"])
def test_unknown_or_foreign_ingestion_id_is_invalid_parameter(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant,
        path: str) -> None:
    theirs = submit(client, other_tenant, item("sku-a", "012345678905", "other-01"))
    for unknown in (str(uuid.uuid4()), "i" * 255, "", theirs, theirs.upper()):
        expect(post(client, tenant, path, {"ingestionId": unknown}), 400, BAD_PARAM)
    assert status_of(client, other_tenant, theirs)["processingStatus"] == "INQUEUE"
    assert [u.status for u in upload_rows(svc, other_tenant.retailer_id)] == ["INQUEUE"]


def test_status_link_is_empty_until_done_then_a_fresh_presigned_link(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    ingestion_id = submit(client, tenant, ITEM_A, ITEM_B)
    assert status_of(client, tenant, ingestion_id) == {
        "processingStatus": "INQUEUE", "reportDownloadLink": ""}
    assert drain(svc) == ["DONE"]
    before = time.time()
    answer = status_of(client, tenant, ingestion_id)
    after = time.time()
    assert answer["processingStatus"] == "DONE"
    link = urlsplit(answer["reportDownloadLink"])
    assert (link.scheme, link.netloc) == ("http", "testserver")
    expires = int(parse_qs(link.query)["expires"][0])
    assert int(before) + 3600 <= expires <= int(after) + 3601
    body = report(client, tenant, ingestion_id)
    assert body["processingStatus"] == "DONE"
    assert [r["action"] for r in body["itemResults"]] == ["CREATED", "CREATED"]


def test_fatal_upload_has_a_report_link(client: TestClient, svc: Runtime,
                                        tenant: Tenant) -> None:
    ingestion_id = submit(client, tenant, ITEM_A)
    svc.blobs.delete(payload_key(ingestion_id))
    assert drain(svc) == ["FATAL"]
    assert status_of(client, tenant, ingestion_id)["processingStatus"] == "FATAL"
    body = report(client, tenant, ingestion_id)
    assert body["processingStatus"] == "FATAL"
    assert body["itemResults"] == []
    assert set(body["error"]) >= {"code", "message"}


@pytest.fixture
def public_client(svc: Runtime) -> Iterator[TestClient]:
    settings = svc.settings.replace(public_url="https://catalog.example.com/",
                                    report_link_ttl=120)
    app = create_app(settings, runtime=Runtime(settings, svc.db, svc.blobs))
    with TestClient(app, base_url="http://internal:8080") as test_client:
        yield test_client


@SQLITE_ONLY
def test_link_uses_public_url_and_configured_ttl(
        public_client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    ingestion_id = submit(public_client, tenant, ITEM_A)
    drain(svc)
    before = time.time()
    link = status_of(public_client, tenant, ingestion_id)["reportDownloadLink"]
    after = time.time()
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https", "catalog.example.com", f"/v1/reports/{ingestion_id}.json")
    expires = int(parse_qs(parts.query)["expires"][0])
    assert int(before) + 120 <= expires <= int(after) + 121


def test_cancel_while_queued_then_conflict(client: TestClient, svc: Runtime,
                                           tenant: Tenant) -> None:
    cancelled = submit(client, tenant, ITEM_A)
    expect(post(client, tenant, CANCEL, {"ingestionId": cancelled}), 200,
           {"processingStatus": "CANCELLED"})
    assert status_of(client, tenant, cancelled) == {
        "processingStatus": "CANCELLED", "reportDownloadLink": ""}
    expect(post(client, tenant, CANCEL, {"ingestionId": cancelled}), 409,
           {"errorMsg": "Catalog upload is CANCELLED and can no longer be cancelled"})
    done = submit(client, tenant, ITEM_A)
    assert drain(svc) == ["DONE"]
    # The cancelled upload applied nothing: the same item is new to the later upload.
    assert [r["action"] for r in report(client, tenant, done)["itemResults"]] == ["CREATED"]
    expect(post(client, tenant, CANCEL, {"ingestionId": done}), 409,
           {"errorMsg": "Catalog upload is DONE and can no longer be cancelled"})
    assert status_of(client, tenant, cancelled)["processingStatus"] == "CANCELLED"


ARCHIVE_MODEL_CASES: dict[str, bytes | Any] = {
    "not-json": b"[", "empty-body": b"", "array": [["sku-a"], ["store-01"]], "null": None,
    "missing-skus": {"itemSkus": DROP}, "missing-stores": {"allApplicableStores": DROP},
    "empty-skus": {"itemSkus": []}, "empty-stores": {"allApplicableStores": []},
    "skus-string": {"itemSkus": "sku-a"}, "stores-string": {"allApplicableStores": "store-01"},
    "sku-number": {"itemSkus": [1]}, "sku-null": {"itemSkus": [None]},
    "sku-empty": {"itemSkus": [""]}, "sku-256": {"itemSkus": ["s" * 256]},
    "sku-object": {"itemSkus": [{"item_sku": "sku-a"}]},
    "store-number": {"allApplicableStores": ["store-01", 2]},
    "store-empty": {"allApplicableStores": ["store-01", "store-02", ""]},
    "store-256": {"allApplicableStores": ["store-01", "store-02", "s" * 256]},
    "skus-10001": {"itemSkus": [f"sku-{n}" for n in range(10_001)]},
    "sku-nul": {"itemSkus": ["sku\u0000"]},
    "invalid-utf8": b'{"itemSkus": ["\xc3"], "allApplicableStores": ["store-01", "store-02"]}',
}


def archive_body(case: bytes | Any) -> bytes | Any:
    """A valid archive body changed by `case` (DROP removes a field); non-dicts as they are."""
    if not isinstance(case, dict):
        return case
    body = {"itemSkus": ["sku-a"], "allApplicableStores": ["store-01", "store-02"], **case}
    return {k: v for k, v in body.items() if v is not DROP}


@SQLITE_ONLY
@pytest.mark.parametrize("case", list(ARCHIVE_MODEL_CASES))
def test_archive_request_model(client: TestClient, svc: Runtime, tenant: Tenant,
                               case: str) -> None:
    expect(post(client, tenant, ARCHIVE, archive_body(ARCHIVE_MODEL_CASES[case])), 400, INVALID)
    assert upload_rows(svc, tenant.retailer_id) == []


@SQLITE_ONLY
def test_archive_at_its_limits_is_accepted(client: TestClient, tenant: Tenant) -> None:
    body = {"itemSkus": ["s" * 255, *(f"sku-{n}" for n in range(9_999))],
            "allApplicableStores": ["store-02", "store-01"]}
    expect(post(client, tenant, ARCHIVE, body), 201)


@pytest.mark.parametrize("stores", [
    ["store-01"], ["store-01", "store-02", "store-03"], ["store-01", "store-02", "other-01"],
    ["other-01"], ["store-01", "other-01"],
], ids=["missing-one", "extra-unknown", "extra-other-retailers", "other-only", "swapped"])
def test_archive_must_name_exactly_the_retailers_stores(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant,
        stores: list[str]) -> None:
    body = {"itemSkus": ["sku-a"], "allApplicableStores": stores}
    expect(post(client, tenant, ARCHIVE, body), 400, {"errorMsg": ALL_STORES + "store-01,store-02"})
    assert upload_rows(svc, tenant.retailer_id) == []


def test_archive_store_list_names_only_the_callers_stores(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    body = {"itemSkus": ["sku-a"], "allApplicableStores": ["store-01", "store-02"]}
    expect(post(client, other_tenant, ARCHIVE, body), 400, {"errorMsg": ALL_STORES + "other-01"})
    assert upload_rows(svc, other_tenant.retailer_id) == []
    bad = {"itemSkus": [""], "allApplicableStores": ["nowhere"]}
    expect(post(client, tenant, ARCHIVE, bad), 400, INVALID)


def _results(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["item_sku"], r["store_id"], r["status"], r["action"],
             [i["code"] for i in r["issues"] if i["severity"] == "ERROR"])
            for r in body["itemResults"]]


def test_archive_is_queued_with_uploads_and_stays_in_its_retailer(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = item("sku-a", "012345678905", "other-01", external_product_id_type="UPC")
    submit(client, other_tenant, theirs)
    first = submit(client, tenant, ITEM_A, item("sku-a", "4006381333931", "store-02"))
    body = {"itemSkus": ["sku-a", "sku-missing"], "allApplicableStores": ["store-02", "store-01"]}
    archived = expect(post(client, tenant, ARCHIVE, body), 201)["ingestionId"]
    again = expect(post(client, tenant, ARCHIVE, body), 201)["ingestionId"]
    revived = submit(client, tenant, ITEM_A)
    assert drain(svc) == ["DONE"] * 5
    assert _results(report(client, tenant, first)) == [
        ("sku-a", "store-01", "ACCEPTED", "CREATED", []),
        ("sku-a", "store-02", "ACCEPTED", "CREATED", [])]
    assert sorted(_results(report(client, tenant, archived)), key=str) == [
        ("sku-a", "store-01", "ACCEPTED", "ARCHIVED", []),
        ("sku-a", "store-02", "ACCEPTED", "ARCHIVED", []),
        ("sku-missing", None, "REJECTED", None, ["SKU_NOT_FOUND"])]
    assert {r[4][0] for r in _results(report(client, tenant, again))} == {
        "ALREADY_ARCHIVED", "SKU_NOT_FOUND"}
    assert _results(report(client, tenant, revived)) == [
        ("sku-a", "store-01", "ACCEPTED", "CREATED", [])]
    # The other retailer's sku-a was never archived: re-sending it changes nothing.
    unchanged = submit(client, other_tenant, theirs)
    assert drain(svc) == ["DONE"]
    assert _results(report(client, other_tenant, unchanged)) == [
        ("sku-a", "other-01", "ACCEPTED", "UNCHANGED", [])]
    expect(post(client, other_tenant, STATUS, {"ingestionId": archived}), 400, BAD_PARAM)


def test_archive_honours_idempotency_key(client: TestClient, svc: Runtime,
                                         tenant: Tenant) -> None:
    body = json.dumps({"itemSkus": ["sku-a"], "allApplicableStores": ["store-01", "store-02"]})
    headers = {"content-type": "application/json", "Idempotency-Key": "archive-1"}
    first = expect(client.post(ARCHIVE, content=body, headers=headers, auth=tenant.auth), 201)
    again = expect(client.post(ARCHIVE, content=body, headers=headers, auth=tenant.auth), 201)
    assert again == first
    other = body.replace("sku-a", "sku-b")
    expect(client.post(ARCHIVE, content=other, headers=headers, auth=tenant.auth), 400,
           {"errorMsg": "Idempotency-Key was already used with a different request body"})
    assert [u.ingestion_id for u in upload_rows(svc, tenant.retailer_id)] == [first["ingestionId"]]
