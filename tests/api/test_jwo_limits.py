"""Rate limit (429, in-process and Redis), body size (413), the two 500s and request ids."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from catalog_ingest.api.auth import RawRequest
from catalog_ingest.app import create_app
from catalog_ingest.errors import TransientError
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.support.contract import expect
from tests.support.signing import sign_headers
from tests.support.tenants import Tenant, item, make_tenant

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

UPLOAD = "/v1/catalog/upload"
STATUS = "/v1/catalog/getCatalogUploadStatus"
TOO_MANY = {"message": "Too Many Requests"}
TOO_LARGE = {"message": "Request Entity Too Large"}
RETRY_500 = {"errorMsg": "Exception encountered while processing the request, please retry again."}
FINAL_500 = {"errorMsg": "Exception encountered while processing the request"}
REDIS_ENV = "CATALOG_INGEST_TEST_REDIS_URL"
REQUIRE_REDIS_ENV = "CATALOG_INGEST_REQUIRE_REDIS"

AppFactory = Callable[..., TestClient]


@pytest.fixture
def app_with(svc: Runtime) -> Iterator[AppFactory]:
    """Build a TestClient over the same database and blobs with some settings changed."""
    clients: list[TestClient] = []

    def build(**changes: Any) -> TestClient:
        settings = svc.settings.replace(**changes)
        app = create_app(settings, runtime=Runtime(settings, svc.db, svc.blobs))
        clients.append(TestClient(app, base_url="http://testserver").__enter__())
        return clients[-1]

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        if os.environ.get(REQUIRE_REDIS_ENV):
            pytest.fail(f"{REQUIRE_REDIS_ENV} is set but {REDIS_ENV} is not")
        pytest.skip(f"Redis tests SKIPPED: set {REDIS_ENV}")
    return url


def limiter_settings(backend: str, rate: str) -> dict[str, Any]:
    return {"rate_limit": rate, "redis_url": redis_url() if backend == "redis" else None}


BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]



def upload_body(tenant: Tenant, sku: str = "sku-1") -> bytes:
    return json.dumps({"catalogItems": [item(sku, "012345678905", tenant.stores[0])]}).encode()


def upload(client: TestClient, tenant: Tenant, sku: str = "sku-1") -> httpx.Response:
    resp: httpx.Response = client.post(UPLOAD, content=upload_body(tenant, sku),
                                       auth=tenant.auth,
                                       headers={"content-type": "application/json"})
    return resp


def status(client: TestClient, tenant: Tenant) -> httpx.Response:
    body = {"ingestionId": str(uuid.uuid4())}
    resp: httpx.Response = client.post(STATUS, json=body, auth=tenant.auth)
    return resp


def upload_count(svc: Runtime, tenant: Tenant) -> int:
    with svc.db.read() as conn:
        return len(uploads.list_uploads(conn, tenant.retailer_id, 100_000, None, None))


def expect_throttled(resp: httpx.Response, window_seconds: int) -> None:
    expect(resp, 429, TOO_MANY)
    retry_after = resp.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= window_seconds


@pytest.mark.parametrize("backend", BACKENDS)
def test_rate_limit_is_per_retailer_over_all_endpoints_after_auth(
        app_with: AppFactory, svc: Runtime, backend: str) -> None:
    client = app_with(**limiter_settings(backend, "10/minute"))
    tenant = make_tenant(svc, "Busy", [f"busy-{uuid.uuid4().hex[:8]}"])
    other = make_tenant(svc, "Calm", [f"calm-{uuid.uuid4().hex[:8]}"])
    for _ in range(15):  # refused before authentication completes: not counted
        expect(client.post(UPLOAD, content=upload_body(tenant)), 403)
    for n in range(5):
        expect(upload(client, tenant, f"sku-{n}"), 201)
        expect(status(client, tenant), 400)
    for n in range(10):
        expect_throttled(upload(client, tenant, f"late-{n}"), 60)
        expect_throttled(status(client, tenant), 60)
    assert upload_count(svc, tenant) == 5
    expect(upload(client, other), 201)
    assert upload_count(svc, other) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_per_second_under_a_burst(app_with: AppFactory, svc: Runtime, backend: str) -> None:
    client = app_with(**limiter_settings(backend, "10/second"))
    tenant = make_tenant(svc, "Burst", [f"burst-{uuid.uuid4().hex[:8]}"])
    other = make_tenant(svc, "Bystander", [f"by-{uuid.uuid4().hex[:8]}"])
    timeline: list[tuple[float, int]] = []
    start = time.monotonic()
    for n in range(30):
        resp = upload(client, tenant, f"sku-{n}")
        timeline.append((time.monotonic(), resp.status_code))
        if resp.status_code != 201:
            expect_throttled(resp, 1)
    expect(upload(client, other), 201)
    # Every answer received within 1 s of the first send was counted inside one window.
    within_first_window = [code for at, code in timeline if at - start < 1.0]
    assert within_first_window.count(201) <= 10
    assert within_first_window[:10] == [201] * len(within_first_window[:10])
    if len(within_first_window) > 10:
        assert 429 in within_first_window
    assert upload_count(svc, tenant) == [code for _, code in timeline].count(201)
    assert upload_count(svc, other) == 1


def _padded(tenant: Tenant, size: int) -> bytes:
    body = upload_body(tenant)
    return body[:-1] + b" " * (size - len(body)) + b"}"


def _chunks(data: bytes, size: int = 128) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


def test_body_over_the_limit_is_413_before_parsing(
        app_with: AppFactory, svc: Runtime, tenant: Tenant) -> None:
    client = app_with(max_body_bytes=1000)
    exact, over = _padded(tenant, 1000), _padded(tenant, 1001)
    headers = {"content-type": "application/json"}
    signed = sign_headers("POST", "http://testserver" + UPLOAD, over, headers,
                          tenant.access_key_id, tenant.secret_access_key)
    expect(client.post(UPLOAD, content=over, headers=signed), 413, TOO_LARGE)
    expect(client.post(UPLOAD, content=b"x" * 5000), 413, TOO_LARGE)  # unsigned, not JSON
    chunked = client.post(UPLOAD, content=_chunks(over), headers=signed)
    expect(chunked, 413, TOO_LARGE)
    assert upload_count(svc, tenant) == 0
    expect(client.post(UPLOAD, content=exact, auth=tenant.auth, headers=headers), 201)
    expect(client.post(UPLOAD, content=_chunks(exact), auth=tenant.auth, headers=headers), 201)
    assert upload_count(svc, tenant) == 2


def _raise(exc: BaseException) -> Callable[..., None]:
    def raiser(*_: object, **__: object) -> None:
        raise exc

    return raiser


FAILURES = {
    "blob-transient": ("blobs.put", TransientError("blob store unreachable"), RETRY_500),
    "blob-crash": ("blobs.put", RuntimeError("boom /secret/path"), FINAL_500),
    "db-unavailable": ("insert_upload", OperationalError("INSERT", {}, Exception("gone")),
                       RETRY_500),
    "db-crash": ("insert_upload", ZeroDivisionError("division by zero"), FINAL_500),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_upload_server_failures_are_the_contracts_500s(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
        case: str) -> None:
    target, exc, answer = FAILURES[case]
    if target == "blobs.put":
        monkeypatch.setattr(svc.blobs, "put", _raise(exc))
    else:
        monkeypatch.setattr(uploads, "insert_upload", _raise(exc))
    resp = upload(client, tenant)
    expect(resp, 500, answer)
    assert "Traceback" not in resp.text and "boom" not in resp.text
    assert upload_count(svc, tenant) == 0
    monkeypatch.undo()
    expect(upload(client, tenant), 201)


def test_status_failures_and_last_resort_500(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        gone = _raise(OperationalError("SELECT", {}, Exception("gone")))
        patch.setattr(uploads, "get_upload", gone)
        patch.setattr(uploads, "lookup_upload", gone)  # one-statement reads
        patch.setattr(uploads, "lookup_status", gone)
        expect(status(client, tenant), 500, RETRY_500)
    with monkeypatch.context() as patch:
        patch.setattr(RawRequest, "capture", _raise(RuntimeError("outside every handler")))
        resp = client.post(UPLOAD, content=upload_body(tenant), auth=tenant.auth)
        expect(resp, 500, FINAL_500)
        assert "outside" not in resp.text


def test_every_answer_has_a_request_id(client: TestClient, tenant: Tenant) -> None:
    answers = [
        client.post("/v1/catalog/noSuchOperation", content=b"{}", auth=tenant.auth),
        client.get(UPLOAD),
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/v1/reports/nothing.json"),
        status(client, tenant),
    ]
    assert [a.status_code for a in answers] == [403, 403, 200, 200, 403, 400]
    ids = {uuid.UUID(a.headers["x-amzn-RequestId"]) for a in answers}
    assert len(ids) == len(answers)
    assert all("Traceback" not in a.text for a in answers)
