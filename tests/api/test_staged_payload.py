"""The payload is written while a request is validated: refused requests leave no blob behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from catalog_ingest.runtime import Runtime
from tests.support.tenants import Tenant, item

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UPLOAD = "/v1/catalog/upload"


def _payload_files(svc: Runtime) -> list[Path]:
    root = svc.settings.data_dir / "blobs" / "payloads"
    return sorted(root.glob("*.json")) if root.exists() else []


def _eventually_empty(svc: Runtime) -> list[Path]:
    deadline = time.monotonic() + 10
    while _payload_files(svc) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline
    return _payload_files(svc)


def test_refused_uploads_leave_no_payload(client: TestClient, svc: Runtime,
                                          tenant: Tenant) -> None:
    bad_store = {"catalogItems": [item("A", "4006381333931", "nowhere")]}
    assert client.post(UPLOAD, json=bad_store, auth=tenant.auth).status_code == 400
    assert client.post(UPLOAD, content=b"{not json", auth=tenant.auth).status_code == 400
    assert _eventually_empty(svc) == []


def test_idempotent_replay_keeps_only_the_first_payload(client: TestClient, svc: Runtime,
                                                        tenant: Tenant) -> None:
    body = {"catalogItems": [item("A", "4006381333931", "store-01")]}
    headers = {"Idempotency-Key": "k"}
    first = client.post(UPLOAD, json=body, headers=headers, auth=tenant.auth).json()
    second = client.post(UPLOAD, json=body, headers=headers, auth=tenant.auth).json()
    assert first == second
    deadline = time.monotonic() + 10
    while len(_payload_files(svc)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline
    assert [p.stem for p in _payload_files(svc)] == [first["ingestionId"]]
