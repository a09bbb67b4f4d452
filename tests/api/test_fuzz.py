"""Schemathesis against /openapi.json for the JWO operations: upload, status, archive, cancel.

Positive and negative cases of each operation, SigV4-signed by botocore over the exact bytes
sent, against the ASGI app in-process (quality target `fuzz`): never a 5xx, only documented
status codes, bodies and content types. Half the positive cases are steered onto the tenant's
real stores and uploads, so the 201/200/409 paths are fuzzed too, not only the 400s.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from tests.support.signing import sign_headers
from tests.support.tenants import Tenant, item, make_tenant

Case = schemathesis.Case[Any]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fuzz")]

OPERATIONS = ["upload", "getCatalogUploadStatus", "archive", "cancelCatalogUpload"]
#: Per operation and generation mode: 4 operations x 2 modes x 260 = 2,080 cases per CI run
#: (set CATALOG_INGEST_FUZZ_EXAMPLES higher for a longer hunt).
EXAMPLES = int(os.environ.get("CATALOG_INGEST_FUZZ_EXAMPLES", "260"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]
SUCCESS = {"upload": 201, "archive": 201, "getCatalogUploadStatus": 200,
           "cancelCatalogUpload": 200}


class SigV4(requests.auth.AuthBase):
    """Signs each prepared request (its final body bytes) with botocore's SigV4Auth."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)  # type: ignore[arg-type]
        keep = {k: str(v) for k, v in request.headers.items() if k.lower() == "content-type"}
        signed = sign_headers(str(request.method), str(request.url), raw, keep,
                              self.tenant.access_key_id, self.tenant.secret_access_key)
        request.headers.update(signed)
        return request


@dataclass
class World:
    schema: Any
    tenant: Tenant
    #: Real ingestion ids: one DONE, several INQUEUE (cancellable once, then 409).
    ingestion_ids: list[str]


def _seed_uploads(svc: Runtime, tenant: Tenant, client: TestClient) -> list[str]:
    ids = []
    for n in range(6):
        body = {"catalogItems": [item(f"seed-{n}", "012345678905", tenant.stores[0])]}
        resp = client.post("/v1/catalog/upload", json=body, auth=tenant.auth)
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["ingestionId"])
        if n == 0:
            drain(svc)  # one DONE upload, with a report link
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    svc = open_runtime(Settings(data_dir=data, rate_limit="1000000/second",
                                 secret_key=b"fuzz-secret-key-0123456789abcdef"))
    tenant = make_tenant(svc, "Fuzz Retailer", ["store-01", "store-02"])
    make_tenant(svc, "Other Retailer", ["other-01"])  # a store the steering must not reach
    app = create_app(svc.settings, runtime=svc)
    with TestClient(app, base_url="http://testserver") as client:
        ids = _seed_uploads(svc, tenant, client)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The signature comes from the harness; unsigned and badly signed requests are tested in
    # test_jwo_auth.py.
    schema.config.generation.update(with_security_parameters=False)
    yield World(schema, tenant, ids)
    svc.close()


def _coin(case: Case) -> int:
    """A stable pseudo-random byte per case (by content), so steering is reproducible."""
    return hashlib.sha256(repr((case.headers, case.body)).encode()).digest()[0]


def _steer(world: World, name: str, case: Case) -> None:
    """Point half the positive cases at the tenant's real stores and uploads."""
    coin = _coin(case)
    body: Any = case.body
    if coin % 2 or not isinstance(body, dict):
        return
    stores = world.tenant.stores
    if name == "upload" and isinstance(body.get("catalogItems"), list):
        for n, entry in enumerate(body["catalogItems"]):
            if isinstance(entry, dict):
                entry["store_id"] = stores[(coin // 2 + n) % len(stores)]
    elif name == "archive":
        body["allApplicableStores"] = list(stores) if coin % 4 == 0 else stores[:1]
    elif name in ("getCatalogUploadStatus", "cancelCatalogUpload"):
        body["ingestionId"] = world.ingestion_ids[(coin // 2) % len(world.ingestion_ids)]


def _run(world: World, name: str, mode: GenerationMode) -> dict[int, int]:
    operation = world.schema[f"/v1/catalog/{name}"]["POST"]
    seen: dict[int, int] = {}
    auth = SigV4(world.tenant)

    @given(case=operation.as_strategy(generation_mode=mode))
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.large_base_example])
    def fuzz(case: Case) -> None:
        if mode is GenerationMode.POSITIVE:
            _steer(world, name, case)
        resp = case.call_and_validate(auth=auth, checks=CHECKS)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1

    fuzz()
    return seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("name", OPERATIONS)
def test_fuzz_jwo_operation(world: World, name: str, mode: GenerationMode) -> None:
    seen = _run(world, name, mode)
    total = sum(seen.values())
    print(f"\n{name} {mode.value}: {total} cases, statuses {dict(sorted(seen.items()))}")
    # Hypothesis stops short of max_examples only when it exhausts an input space; ours are large.
    assert total >= EXAMPLES, (name, mode.value, total)
    assert not any(status >= 500 for status in seen)
    if mode is GenerationMode.POSITIVE:  # the steering reaches the success path
        assert SUCCESS[name] in seen, seen
    else:
        assert all(400 <= status < 500 for status in seen), seen


@pytest.mark.parametrize("name", OPERATIONS)
def test_coverage_cases_of_jwo_operation(world: World, name: str) -> None:
    """Schemathesis' deterministic boundary cases (lengths 0/1/255/256, missing fields, types)."""
    operation = world.schema[f"/v1/catalog/{name}"]["POST"]
    seen: dict[int, int] = {}
    cases = world.schema.iter_coverage_cases(
        operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=world.schema.config.generation_for(operation=operation),
    )
    for case in cases:
        resp = case.call_and_validate(auth=SigV4(world.tenant), checks=CHECKS)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
    print(f"\n{name} coverage: {sum(seen.values())} cases, statuses {dict(sorted(seen.items()))}")
    assert sum(seen.values()) >= 20, seen
    assert not any(status >= 500 for status in seen)
