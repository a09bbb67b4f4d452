"""Pre-signed report links: valid within their TTL, then expired; altered links never work."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest import links
from catalog_ingest.app import create_app
from catalog_ingest.crypto import LinkExpired, LinkInvalid, verify_path
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.settings import from_env
from tests.integration.oracle import report_link, submit
from tests.support.tenants import Tenant, item

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def submit_one(client: TestClient, tenant: Tenant, sku: str) -> str:
    return submit(client, tenant, [item(sku, "012345678905", tenant.stores[0])])


def split(link: str) -> tuple[str, dict[str, str]]:
    """The link's path and its query parameters."""
    parts = urlsplit(link)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def get(client: TestClient, path: str, params: dict[str, str]) -> httpx.Response:
    resp: httpx.Response = client.get(f"{path}?{urlencode(params)}" if params else path)
    return resp


def assert_refused(resp: httpx.Response, *, expired: bool) -> None:
    """403 with a JSON message that says whether the link expired, and no report in it."""
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"message"}
    assert ("expired" in body["message"].lower()) is expired, body
    assert "itemResults" not in resp.text and "ingestionId" not in resp.text


def at(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    """The report route's clock reads `now` (only that module's view of time changes)."""
    monkeypatch.setattr(links, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def short_lived(svc: Runtime) -> Iterator[TestClient]:
    settings = svc.settings.replace(report_link_ttl=1)
    app = create_app(settings, runtime=Runtime(settings, svc.db, svc.blobs))
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def test_link_is_valid_until_its_expiry_and_expired_after(
        client: TestClient, svc: Runtime, tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ingestion_id = submit_one(client, tenant, "A")
    drain(svc)
    issued = time.time()
    path, params = split(report_link(client, tenant, ingestion_id))
    expires = int(params["expires"])
    ttl = svc.settings.report_link_ttl
    assert int(issued) + ttl <= expires <= int(time.time()) + ttl
    at(monkeypatch, expires - ttl / 2)
    assert json.loads(get(client, path, params).text)["ingestionId"] == ingestion_id
    at(monkeypatch, expires)  # the last second it is valid
    assert get(client, path, params).status_code == 200
    at(monkeypatch, expires + 1)
    assert_refused(get(client, path, params), expired=True)


def test_short_ttl_link_expires_ttl_after_the_status_call(
        short_lived: TestClient, svc: Runtime, tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ingestion_id = submit_one(short_lived, tenant, "A")
    drain(svc)
    before = time.time()
    path, params = split(report_link(short_lived, tenant, ingestion_id))
    after = time.time()
    expires = int(params["expires"])
    assert int(before) + 1 <= expires <= int(after) + 1
    secret = svc.settings.secret_key
    verify_path(secret, path, params, before)
    verify_path(secret, path, params, float(expires))
    with pytest.raises(LinkExpired):
        verify_path(secret, path, params, after + 1 + 1)
    # An expired link whose expiry is pushed forward is not extended: it is invalid.
    with pytest.raises(LinkInvalid):
        verify_path(secret, path, {**params, "expires": str(expires + 3600)}, after + 2)
    at(monkeypatch, after + 1 + 1)
    assert_refused(get(short_lived, path, params), expired=True)


@SQLITE_ONLY
def test_altered_links_are_refused_and_never_serve_another_uploads_report(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    mine = submit_one(client, tenant, "A")
    sibling = submit_one(client, tenant, "B")
    theirs = submit_one(client, other_tenant, "A")
    assert drain(svc) == ["DONE"] * 3
    path, params = split(report_link(client, tenant, mine))
    signature = params["signature"]
    flipped = ("0" if signature[-1] != "0" else "1")
    altered = [
        (path, {**params, "signature": signature[:-1] + flipped}),
        (path, {**params, "signature": signature.upper()}),
        (path, {**params, "expires": str(int(params["expires"]) + 60)}),
        (path, {"expires": params["expires"]}),
        (path, {"signature": signature}),
        (path, {}),
        (path.replace(mine, sibling), params),
        (path.replace(mine, theirs), params),
        (path.replace(mine, mine.upper()), params),
    ]
    for bad_path, bad_params in altered:
        assert_refused(get(client, bad_path, bad_params), expired=False)
    # Each genuine link serves its own upload's report only.
    for owner, ingestion_id in ((tenant, mine), (tenant, sibling), (other_tenant, theirs)):
        own_path, own_params = split(report_link(client, owner, ingestion_id))
        assert get(client, own_path, own_params).json()["ingestionId"] == ingestion_id


@SQLITE_ONLY
def test_public_url_from_the_environment_is_the_links_host(
        svc: Runtime, tenant: Tenant) -> None:
    env = {"CATALOG_INGEST_PUBLIC_URL": "https://catalog.example.org/",
           "CATALOG_INGEST_REPORT_LINK_TTL": "90"}
    settings = from_env(env).replace(data_dir=svc.settings.data_dir,
                                     database_url=svc.settings.database_url,
                                     secret_key=svc.settings.secret_key)
    assert (settings.public_url, settings.report_link_ttl) == ("https://catalog.example.org/", 90)
    app = create_app(settings, runtime=Runtime(settings, svc.db, svc.blobs))
    with TestClient(app, base_url="http://10.0.0.7:8080") as internal:
        ingestion_id = submit_one(internal, tenant, "A")
        drain(svc)
        before = time.time()
        link = report_link(internal, tenant, ingestion_id)
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == (
            "https", "catalog.example.org", f"/v1/reports/{ingestion_id}.json")
        path, params = split(link)
        assert int(before) + 90 <= int(params["expires"]) <= int(time.time()) + 90
        # The public host forwards to the service: the same path and query still work.
        assert get(internal, path, params).json()["ingestionId"] == ingestion_id
