"""Wire contract of the Merchant-Center Status resource: tokens, headers, alt, errors, counts."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, item, make_tenant

BASE = "/shopping/v9.1/bmc"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    secret_key=b"test-secret-key-0123456789abcdef", rate_limit="100000/second")


def upc(n: int) -> str:
    body = f"{n:011d}"
    return body + str(gs1_check_digit(body))


def tokens_for(svc: Runtime, tenant: Tenant) -> dict[str, str]:
    with svc.db.write() as conn:
        auth, dev = admin.create_mmc_token(conn, tenant.retailer_id)
    return {"AuthenticationToken": auth, "DeveloperToken": dev}


def ids(svc: Runtime, store_id: str) -> tuple[int, int]:
    with svc.db.read() as conn:
        store = admin.stores_by_id(conn, [store_id])[store_id]
    return store.merchant_id, store.catalog_id


def status_path(merchant: object, catalog: object) -> str:
    return f"{BASE}/{merchant}/catalogs/{catalog}/status"


def get(client: TestClient, path: str, headers: dict[str, str], **params: str) -> httpx.Response:
    resp = client.get(path, headers=headers, params=params or None)
    uuid.UUID(resp.headers["WebRequestActivityId"])
    return resp


def error_of(resp: httpx.Response, status: int, code: str, alt: str = "json") -> None:
    assert resp.status_code == status, resp.text
    if alt == "json":
        assert resp.headers["content-type"] == "application/json"
        errors = resp.json()["Errors"]
        assert len(errors) == 1 and errors[0]["Code"] == code and errors[0]["Message"]
    else:
        assert resp.headers["content-type"] == "application/xml"
        root = ET.fromstring(resp.content)
        assert root.tag == "Errors" and root.findtext("Error/Code") == code


def apply(client: TestClient, svc: Runtime, tenant: Tenant, body: dict[str, Any],
          path: str = "/v1/catalog/upload") -> str:
    resp = client.post(path, content=json.dumps(body).encode(), auth=tenant.auth,
                       headers={"content-type": "application/json"})
    assert resp.status_code == 201, resp.text
    drain(svc)
    return str(resp.json()["ingestionId"])


def counts(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, int]:
    resp = get(client, path, headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert ("rejectionReportUrl" in body) == (body["rejectedCount"] > 0)
    xml = get(client, path, headers, alt="xml")
    root = ET.fromstring(xml.content)
    assert xml.headers["content-type"] == "application/xml" and root.tag == "catalogStatus"
    assert int(root.findtext("catalog_id") or -1) == body["catalogId"]
    assert int(root.findtext("published_count") or -1) == body["publishedCount"]
    assert int(root.findtext("rejected_count") or -1) == body["rejectedCount"]
    assert (root.find("rejection_report_url") is not None) == (body["rejectedCount"] > 0)
    return body["publishedCount"], body["rejectedCount"]


def test_counts_through_accept_reject_fix_rebreak_archive(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    merchant, catalog = ids(svc, "store-01")
    path = status_path(merchant, catalog)
    assert get(client, path, headers).json() == {
        "catalogId": catalog, "publishedCount": 0, "rejectedCount": 0}
    good = [item(f"sku-{n}", upc(n), "store-01") for n in range(1, 4)]
    bad_d = item("sku-4", upc(4), "store-01", standard_price="-1")
    bad_e = item("sku-5", "123", "store-01")
    elsewhere = item("sku-6", "999", "store-02")
    apply(client, svc, tenant, {"catalogItems": [*good, bad_d, bad_e, elsewhere]})
    assert counts(client, path, headers) == (3, 2)
    # Rejected again: still one per SKU.
    apply(client, svc, tenant, {"catalogItems": [bad_e]})
    assert counts(client, path, headers) == (3, 2)
    # Later fixed: D is live and no longer rejected.
    apply(client, svc, tenant, {"catalogItems": [{**bad_d, "standard_price": "1.00"}]})
    assert counts(client, path, headers) == (4, 1)
    # Re-broken: D's latest submission is rejected but its last accepted version is live.
    apply(client, svc, tenant, {"catalogItems": [bad_d]})
    assert counts(client, path, headers) == (4, 1)
    # Archived: B leaves the published count; D, archived with a rejected latest
    # submission, now has no live version and counts as rejected.
    apply(client, svc, tenant, {"itemSkus": ["sku-2", "sku-4"],
                                "allApplicableStores": ["store-01", "store-02"]},
          "/v1/catalog/archive")
    assert counts(client, path, headers) == (2, 2)
    # Re-uploaded fine: live again, not rejected.
    apply(client, svc, tenant, {"catalogItems": [{**bad_d, "standard_price": "2"}, good[1]]})
    assert counts(client, path, headers) == (4, 1)
    other_merchant, other_catalog = ids(svc, "store-02")
    assert counts(client, status_path(other_merchant, other_catalog), headers) == (0, 1)


@SQLITE_ONLY
def test_rejection_report_url_is_a_presigned_link(client: TestClient, svc: Runtime,
                                                  tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    merchant, catalog = ids(svc, "store-01")
    apply(client, svc, tenant, {"catalogItems": [item("sku-1", "1", "store-01")]})
    for alt in ("json", "xml"):
        resp = get(client, status_path(merchant, catalog), headers, alt=alt)
        url = (resp.json()["rejectionReportUrl"] if alt == "json"
               else ET.fromstring(resp.content).findtext("rejection_report_url"))
        assert url is not None
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "testserver")
        assert parts.path == f"{BASE}/{merchant}/catalogs/{catalog}/rejection-report"
        assert set(parse_qs(parts.query)) == {"expires", "signature"}
        assert client.get(url).status_code == 200


@SQLITE_ONLY
def test_token_and_header_errors(client: TestClient, svc: Runtime, tenant: Tenant,
                                 other_tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    other = tokens_for(svc, other_tenant)
    path = status_path(*ids(svc, "store-01"))
    for alt in ("json", "xml"):
        error_of(get(client, path, {}, alt=alt), 401, "AuthenticationTokenInvalid", alt)
        for bad in ({"AuthenticationToken": headers["AuthenticationToken"]},
                    {"DeveloperToken": headers["DeveloperToken"]},
                    {**headers, "DeveloperToken": other["DeveloperToken"]},
                    {**headers, "AuthenticationToken": "nope"},
                    {**headers, "AuthenticationToken": ""}):
            error_of(get(client, path, bad, alt=alt), 401, "AuthenticationTokenInvalid", alt)
        error_of(get(client, path, {**headers, "CustomerId": "123"}, alt=alt), 400,
                 "InvalidHeader", alt)
    for bad_customer in ({"CustomerId": "12x", "CustomerAccountId": "1"},
                         {"CustomerAccountId": ""}, {"CustomerAccountId": "9" * 21}):
        error_of(get(client, path, {**headers, **bad_customer}), 400, "InvalidHeader")
    ok = get(client, path, {**headers, "CustomerId": "123", "CustomerAccountId": "456"})
    assert ok.status_code == 200
    assert get(client, path, {**headers, "CustomerAccountId": "456"}).status_code == 200
    with svc.db.write() as conn:
        admin.set_retailer_enabled(conn, tenant.retailer_id, False)
    error_of(get(client, path, headers), 401, "AuthenticationTokenInvalid")
    with svc.db.write() as conn:
        admin.set_retailer_enabled(conn, tenant.retailer_id, True)
    assert get(client, path, headers).status_code == 200


@SQLITE_ONLY
def test_alt_values(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    path = status_path(*ids(svc, "store-01"))
    for alt in ("yaml", "XML", "Json", "", "json "):
        error_of(get(client, path, headers, alt=alt), 400, "InvalidQueryParameter")
    # A bad alt answers 400 even without credentials (the format comes first).
    error_of(get(client, path, {}, alt="csv"), 400, "InvalidQueryParameter")
    error_of(get(client, path + "?alt=json&alt=xml", headers), 400, "InvalidQueryParameter")
    resp = get(client, path + "?alt=xml&unrelated=1", headers)
    assert resp.status_code == 200 and resp.content.startswith(b"<?xml")


@SQLITE_ONLY
def test_unknown_or_foreign_catalog_is_404(client: TestClient, svc: Runtime, tenant: Tenant,
                                           other_tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    merchant, catalog = ids(svc, "store-01")
    merchant2, catalog2 = ids(svc, "store-02")
    foreign_merchant, foreign_catalog = ids(svc, "other-01")
    for m, c in ((merchant, catalog2), (merchant2, catalog), (foreign_merchant, foreign_catalog),
                 (999_999, catalog), (merchant, 0), ("abc", catalog), (merchant, "-1"),
                 (2**64, catalog), (2**63, catalog), ("9" * 30, catalog), (merchant, "1e3")):
        for alt in ("json", "xml"):
            error_of(get(client, status_path(m, c), headers, alt=alt), 404, "NotFound", alt)
    assert get(client, status_path(merchant2, catalog2), headers).status_code == 200


@SQLITE_ONLY
def test_failure_is_500_with_activity_id(client: TestClient, svc: Runtime,
                                         tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    path = status_path(*ids(svc, "store-01"))
    with svc.db.write() as conn:
        conn.exec_driver_sql("DROP TABLE rejections")
    for alt in ("json", "xml"):
        resp = get(client, path, headers, alt=alt)
        error_of(resp, 500, "InternalError", alt)
        assert "rejections" not in resp.text and "Traceback" not in resp.text


@SQLITE_ONLY
def test_activity_ids_are_fresh(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    headers = tokens_for(svc, tenant)
    path = status_path(*ids(svc, "store-01"))
    seen = {get(client, path, h).headers["WebRequestActivityId"]
            for h in (headers, headers, {}, {})}
    assert len(seen) == 4


def test_real_server_status_and_report(tmp_path: Path) -> None:
    """The whole path over real HTTP: a `serve` process with its worker, signed uploads, tokens."""
    data_dir = tmp_path / "server"
    svc = open_runtime(Settings(data_dir=data_dir))
    try:
        tenant = make_tenant(svc, "E2E Retailer", ["e2e-01"])
        headers = tokens_for(svc, tenant)
        merchant, catalog = ids(svc, "e2e-01")
    finally:
        svc.close()
    server = ServerProcess(data_dir, env={"CATALOG_INGEST_RATE_LIMIT": "1000/second"})
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            body = {"catalogItems": [item("ok", upc(1), "e2e-01"), item("bad", "1", "e2e-01")]}
            resp = http.post("/v1/catalog/upload", json=body, auth=tenant.auth)
            assert resp.status_code == 201, resp.text
            ingestion = resp.json()["ingestionId"]
            deadline = time.monotonic() + 30
            while True:  # processing is asynchronous: poll the contract's status call
                state = http.post("/v1/catalog/getCatalogUploadStatus",
                                  json={"ingestionId": ingestion}, auth=tenant.auth).json()
                if state["processingStatus"] == "DONE" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert state["processingStatus"] == "DONE"
            resp = http.get(status_path(merchant, catalog), headers=headers)
            uuid.UUID(resp.headers["WebRequestActivityId"])
            status = resp.json()
            assert (status["publishedCount"], status["rejectedCount"]) == (1, 1)
            assert status["rejectionReportUrl"].startswith(server.url + BASE)
            report = http.get(status["rejectionReportUrl"],
                              headers={"Accept": "application/x-zip-compressed"})
            assert report.headers["content-type"] == "application/x-zip-compressed"
            with zipfile.ZipFile(io.BytesIO(report.content)) as archive:
                text = archive.read("MerchantCatalogReport.csv").decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            assert [r[0] for r in rows[4:]] == ["bad"]
            error_of(http.get(status_path(merchant, catalog)), 401, "AuthenticationTokenInvalid")
    finally:
        server.stop()
