"""SigV4 authentication of the JWO API over the wire: every 403 with its exact message."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.api import auth as server_auth
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from tests.support.signing import sign_headers
from tests.support.tenants import Tenant, item

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BASE = "http://testserver"
UPLOAD = "/v1/catalog/upload"
STATUS = "/v1/catalog/getCatalogUploadStatus"
ENDPOINTS = [UPLOAD, STATUS, "/v1/catalog/archive", "/v1/catalog/cancelCatalogUpload"]
MISSING = "Missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.")
BODY = json.dumps({"catalogItems": [item("sku-1", "012345678905", "store-01")]}).encode()


def signed_post(client: TestClient, path: str, body: bytes, key: str, secret: str, *,
                send_body: bytes | None = None, send_path: str | None = None,
                region: str = "us-east-1") -> httpx.Response:
    """Sign (path, body) with botocore; optionally send another body or path than was signed."""
    headers = sign_headers("POST", BASE + path, body, {"content-type": "application/json"},
                           key, secret, region)
    content = body if send_body is None else send_body
    resp: httpx.Response = client.post(send_path or path, content=content, headers=headers)
    return resp


def expect_403(resp: httpx.Response, message: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json() == {"message": message}
    assert resp.headers["content-type"] == "application/json"
    uuid.UUID(resp.headers["x-amzn-RequestId"])


def stored_uploads(svc: Runtime) -> int:
    with svc.db.read() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM uploads").scalar_one())


def test_signed_request_is_accepted(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    resp = signed_post(client, UPLOAD, BODY, tenant.access_key_id, tenant.secret_access_key)
    assert resp.status_code == 201
    assert stored_uploads(svc) == 1


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unsigned_request_is_missing_token_before_the_body_is_judged(
        client: TestClient, svc: Runtime, tenant: Tenant, path: str) -> None:
    expect_403(client.post(path, content=BODY, headers={"content-type": "application/json"}),
               MISSING)
    expect_403(client.post(path, content=b"not json"), MISSING)
    assert stored_uploads(svc) == 0


def test_wrong_secret_unknown_key_and_wrong_region(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    key, secret = tenant.access_key_id, tenant.secret_access_key
    expect_403(signed_post(client, UPLOAD, BODY, key, secret + "x"), MISMATCH)
    expect_403(signed_post(client, UPLOAD, BODY, "AKCI0000000000000000", secret), INVALID_TOKEN)
    expect_403(signed_post(client, UPLOAD, BODY, key, secret, region="eu-west-1"),
               "Credential should be scoped to a valid region, not 'eu-west-1'. ")
    assert stored_uploads(svc) == 0


def test_request_altered_after_signing(client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    key, secret = tenant.access_key_id, tenant.secret_access_key
    altered = BODY.replace(b"sku-1", b"sku-2")
    expect_403(signed_post(client, UPLOAD, BODY, key, secret, send_body=altered), MISMATCH)
    expect_403(signed_post(client, UPLOAD, BODY, key, secret, send_body=BODY + b" "), MISMATCH)
    expect_403(signed_post(client, STATUS, BODY, key, secret, send_path=UPLOAD), MISMATCH)
    headers = sign_headers("POST", BASE + UPLOAD, BODY, {"content-type": "application/json"},
                           key, secret)
    headers["content-type"] = "text/plain"  # a signed header changed in transit
    expect_403(client.post(UPLOAD, content=BODY, headers=headers), MISMATCH)
    assert stored_uploads(svc) == 0


def test_revoked_key_is_an_invalid_token(client: TestClient, svc: Runtime,
                                         tenant: Tenant) -> None:
    with svc.db.write() as conn:
        spare_key, spare_secret = admin.create_key(conn, svc.settings.secret_key,
                                                   tenant.retailer_id)
    key, secret = tenant.access_key_id, tenant.secret_access_key
    assert signed_post(client, UPLOAD, BODY, key, secret).status_code == 201
    with svc.db.write() as conn:
        admin.revoke_key(conn, key)
    expect_403(signed_post(client, UPLOAD, BODY, key, secret), INVALID_TOKEN)
    assert signed_post(client, UPLOAD, BODY, spare_key, spare_secret).status_code == 201
    assert stored_uploads(svc) == 2


def test_disabled_retailer_is_not_authorized_on_the_path_it_called(
        client: TestClient, svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    key, secret = tenant.access_key_id, tenant.secret_access_key
    with svc.db.write() as conn:
        admin.set_retailer_enabled(conn, tenant.retailer_id, False)
    for path in (UPLOAD, STATUS):
        expect_403(signed_post(client, path, BODY, key, secret),
                   f"User: {key} is not authorized to perform: execute-api:Invoke "
                   f"on resource: {path}")
    # A wrong signature from a disabled retailer is still just a wrong signature.
    expect_403(signed_post(client, UPLOAD, BODY, key, "nope"), MISMATCH)
    other = json.dumps({"catalogItems": [item("sku-1", "012345678905", "other-01")]}).encode()
    assert signed_post(client, UPLOAD, other, other_tenant.access_key_id,
                       other_tenant.secret_access_key).status_code == 201
    assert stored_uploads(svc) == 1
    with svc.db.write() as conn:
        admin.set_retailer_enabled(conn, tenant.retailer_id, True)
    assert signed_post(client, UPLOAD, BODY, key, secret).status_code == 201


SERVER_NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return SERVER_NOW if tz is not None else SERVER_NOW.replace(tzinfo=None)


@pytest.mark.parametrize("offset, message", [
    (timedelta(minutes=5), None),
    (-timedelta(minutes=5), None),
    (timedelta(minutes=5, seconds=1), "Signature expired: 20261122T100501Z is now later than "
                                      "20261122T100500Z (20261122T100000Z + 5 min.)"),
    (-timedelta(minutes=5, seconds=1), "Signature expired: 20261122T095459Z is now earlier than "
                                       "20261122T095500Z (20261122T100000Z - 5 min.)"),
    (timedelta(days=1), "Signature expired: 20261123T100000Z is now later than "
                        "20261122T100500Z (20261122T100000Z + 5 min.)"),
], ids=["+5min", "-5min", "+5min1s", "-5min1s", "+1day"])
def test_clock_skew_beyond_five_minutes_is_expired(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
        offset: timedelta, message: str | None) -> None:
    client_now = (SERVER_NOW + offset).replace(tzinfo=None)  # botocore's clock is naive UTC
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: client_now)
    monkeypatch.setattr(server_auth, "datetime", _FrozenDatetime)
    resp = signed_post(client, UPLOAD, BODY, tenant.access_key_id, tenant.secret_access_key)
    if message is None:
        assert resp.status_code == 201, resp.text
        assert stored_uploads(svc) == 1
    else:
        expect_403(resp, message)
        assert stored_uploads(svc) == 0


def test_each_answer_has_its_own_request_id(client: TestClient, tenant: Tenant) -> None:
    ids = {client.post(UPLOAD, content=BODY).headers["x-amzn-RequestId"] for _ in range(5)}
    ids |= {signed_post(client, UPLOAD, BODY, tenant.access_key_id, tenant.secret_access_key)
            .headers["x-amzn-RequestId"] for _ in range(5)}
    assert len(ids) == 10
    assert all(uuid.UUID(i).version == 4 for i in ids)
