"""The MMC rejection report read back with zipfile and csv: layout, hostile values, links."""

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
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.crypto import sign_path
from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin
from tests.support.tenants import Tenant, item

BASE = "/shopping/v9.1/bmc"
ZIP_TYPE = "application/x-zip-compressed"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HOSTILE_STORE_NAME = '=cmd|"/c calc",</&>\nCafé ☕'


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    secret_key=b"test-secret-key-0123456789abcdef", rate_limit="100000/second")


def upc(n: int) -> str:
    body = f"{n:011d}"
    return body + str(gs1_check_digit(body))


def neutral(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def post(client: TestClient, tenant: Tenant, path: str, body: Any) -> httpx.Response:
    return client.post(path, content=json.dumps(body).encode(), auth=tenant.auth,
                       headers={"content-type": "application/json"})


def apply(client: TestClient, svc: Runtime, tenant: Tenant, items: list[dict[str, Any]]) -> str:
    resp = post(client, tenant, "/v1/catalog/upload", {"catalogItems": items})
    assert resp.status_code == 201, resp.text
    drain(svc)
    return str(resp.json()["ingestionId"])


def processing_report(client: TestClient, tenant: Tenant, ingestion_id: str) -> dict[str, Any]:
    status = post(client, tenant, "/v1/catalog/getCatalogUploadStatus",
                  {"ingestionId": ingestion_id}).json()
    body: dict[str, Any] = client.get(status["reportDownloadLink"]).json()
    return body


def add_hostile_store(svc: Runtime, tenant: Tenant) -> admin.Store:
    with svc.db.write() as conn:
        return admin.add_store(conn, tenant.retailer_id, "store-x", name=HOSTILE_STORE_NAME)


def mmc_headers(svc: Runtime, tenant: Tenant) -> dict[str, str]:
    with svc.db.write() as conn:
        auth, dev = admin.create_mmc_token(conn, tenant.retailer_id)
    return {"AuthenticationToken": auth, "DeveloperToken": dev}


def status_of(client: TestClient, store: admin.Store, headers: dict[str, str]) -> dict[str, Any]:
    resp = client.get(f"{BASE}/{store.merchant_id}/catalogs/{store.catalog_id}/status",
                      headers=headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def read_zip(resp: httpx.Response) -> list[list[str]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == ZIP_TYPE
    uuid.UUID(resp.headers["WebRequestActivityId"])
    with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
        assert archive.namelist() == ["MerchantCatalogReport.csv"]
        raw = archive.read("MerchantCatalogReport.csv")
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n")
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True))


REJECTED = [
    item('=HYPERLINK("http://evil.example","click")', "123", "store-x",
         'Name, with "quotes"\nand a newline', product_category="Dairy", standard_price="1.5"),
    item("sku-ü-☕", upc(20), "store-x", "</&> ]]> <script>", product_category="+SUM(A1)",
         standard_price="-1"),
    item("@sku", "12345678901", "store-x", "Two errors", standard_price="NaN"),
    item("\tsku-tab", upc(21), "store-x", "-lead", standard_price="4,99"),
]


def expected_body_row(entry: dict[str, Any], issues: list[dict[str, Any]]) -> list[str]:
    errors = [i for i in issues if i["severity"] == "ERROR"]
    values = list(dict.fromkeys(str(i["value"]) for i in errors if "value" in i))
    snippet = (f"{entry['item_name']};{entry.get('product_category') or ''};;;"
               f"{entry.get('standard_price') or ''};;;")
    return [neutral(entry["item_sku"]), neutral("; ".join(i["message"] for i in errors)), "Error",
            neutral("; ".join(values)), neutral(snippet)]


def test_report_layout_row_for_row_with_hostile_values(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    store = add_hostile_store(svc, tenant)
    headers = mmc_headers(svc, tenant)
    fixed = item("sku-fixed", upc(22), "store-x", standard_price="x")
    rebroken = item("sku-rebroken", upc(23), "store-x")
    first = apply(client, svc, tenant, [*REJECTED, fixed, rebroken,
                                        item("sku-ok", upc(24), "store-x")])
    apply(client, svc, tenant, [{**fixed, "standard_price": "1"}])
    last = apply(client, svc, tenant, [{**rebroken, "standard_price": "-5"}])
    apply(client, svc, tenant, [item("sku-elsewhere", "1", "store-01")])  # another store
    status = status_of(client, store, headers)
    assert (status["publishedCount"], status["rejectedCount"]) == (3, len(REJECTED))

    rows = read_zip(client.get(status["rejectionReportUrl"], headers={"Accept": ZIP_TYPE}))
    listed = post(client, tenant, "/v1/catalog/listCatalogUploads", {}).json()["catalogUploads"]
    completed = next(u["completedAt"] for u in listed if u["ingestionId"] == last)
    assert rows[0] == ["Catalog Name", "Catalog Id", "Store Id", "Upload Time"]
    assert rows[1] == [neutral(HOSTILE_STORE_NAME), str(store.catalog_id), "store-x", completed]
    assert rows[2] == []
    assert rows[3] == ["Item Id", "Message", "Type", "Values", "Offer Snippet"]
    results = processing_report(client, tenant, first)["itemResults"]
    issues_by_sku = {r["item_sku"]: r["issues"] for r in results}
    expected = [expected_body_row(e, issues_by_sku[e["item_sku"]])
                for e in sorted(REJECTED, key=lambda e: e["item_sku"])]
    assert rows[4:] == expected
    assert len(rows) - 4 == status["rejectedCount"]
    by_id = {r[0]: r for r in rows[4:]}
    assert set(by_id) == {"'\tsku-tab", "'=HYPERLINK(\"http://evil.example\",\"click\")", "'@sku",
                          "sku-ü-☕"}
    multi = by_id["'@sku"]
    assert "; " in multi[1] and "12345678901" in multi[3] and "NaN" in multi[3]


@SQLITE_ONLY
def test_report_ignores_accept_and_lists_nothing_when_clean(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    store = add_hostile_store(svc, tenant)
    headers = mmc_headers(svc, tenant)
    apply(client, svc, tenant, [REJECTED[0]])
    url = status_of(client, store, headers)["rejectionReportUrl"]
    for accept in (ZIP_TYPE, "text/csv", "*/*", None):
        sent = {"Accept": accept} if accept else {}
        assert len(read_zip(client.get(url, headers=sent))) == 5
    apply(client, svc, tenant, [{**REJECTED[0], "external_product_id": upc(30)}])
    status = status_of(client, store, headers)
    assert status["rejectedCount"] == 0 and "rejectionReportUrl" not in status
    rows = read_zip(client.get(url))  # the old link is still valid; the catalog is clean now
    assert len(rows) == 4 and rows[2] == []


@SQLITE_ONLY
def test_report_link_from_xml_status(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    store = add_hostile_store(svc, tenant)
    headers = mmc_headers(svc, tenant)
    apply(client, svc, tenant, REJECTED)
    resp = client.get(f"{BASE}/{store.merchant_id}/catalogs/{store.catalog_id}/status",
                      params={"alt": "xml"}, headers=headers)
    assert b"&amp;signature=" in resp.content
    url = ET.fromstring(resp.content).findtext("rejection_report_url")
    assert url is not None
    assert len(read_zip(client.get(url))) == 4 + len(REJECTED)


def _invalid(resp: httpx.Response) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/json"
    uuid.UUID(resp.headers["WebRequestActivityId"])
    assert [e["Code"] for e in resp.json()["Errors"]] == ["InvalidReportUrl"]


@SQLITE_ONLY
def test_expired_or_altered_links_are_400(client: TestClient, svc: Runtime,
                                          tenant: Tenant) -> None:
    store = add_hostile_store(svc, tenant)
    headers = mmc_headers(svc, tenant)
    other = admin.stores_by_id
    apply(client, svc, tenant, [REJECTED[0], {**REJECTED[1], "store_id": "store-01"}])
    url = status_of(client, store, headers)["rejectionReportUrl"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    with svc.db.read() as conn:
        store_01 = other(conn, ["store-01"])["store-01"]
    path = parts.path
    moved = f"{BASE}/{store_01.merchant_id}/catalogs/{store_01.catalog_id}/rejection-report"
    flipped = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
    past = int(time.time()) - 10
    secret = svc.settings.secret_key
    for target in (
        f"{path}?{urlencode({**query, 'signature': flipped})}",
        f"{path}?{urlencode({**query, 'expires': str(int(query['expires']) + 1)})}",
        f"{path}?{urlencode({'expires': query['expires']})}",
        f"{path}?{urlencode({'signature': query['signature']})}",
        path,
        f"{path}?{parts.query}&signature={flipped}",
        f"{path}?{urlencode({**query, 'signature': query['signature'].upper()})}",
        f"{moved}?{parts.query}",
        f"{path}?{sign_path(secret, path, past)}",
        f"{path}?{sign_path(b'another-secret-0123456789abcdef', path, past + 3600)}",
    ):
        _invalid(client.get(target))
    assert client.get(f"{path}?{parts.query}").status_code == 200
