"""Schemathesis against /openapi.json for the read extensions and the Status resource.

Positive and negative cases of each operation, sent SigV4-signed by botocore (JWO) or with a
real MMC token pair; every answer must be a documented status with a documented body and
headers, never a 5xx. Half the generated store ids / MMC ids are swapped for real ones so the
success paths are fuzzed too, not only the "unknown" answers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

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
from starlette.applications import Starlette

from catalog_ingest.app import create_app
from catalog_ingest.crypto import sign_path
from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin
from tests.support.signing import sign_headers
from tests.support.tenants import Tenant, item, make_tenant

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fuzz_read")]

JWO_OPERATIONS = ["listCatalogUploads", "getCatalogItems", "listCatalogItems", "lookupBarcode"]
MMC_PATHS = {
    "getCatalogStatus": "/shopping/v9.1/bmc/{bmcMerchantId}/catalogs/{catalogId}/status",
    "getRejectionReport":
        "/shopping/v9.1/bmc/{bmcMerchantId}/catalogs/{catalogId}/rejection-report",
}
EXAMPLES_PER_MODE = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]


class SigV4(requests.auth.AuthBase):
    """Signs each prepared request with botocore's SigV4Auth (the reference signer)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)  # type: ignore[arg-type]
        keep = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        signed = sign_headers(str(request.method), str(request.url), raw, keep,
                              self.tenant.access_key_id, self.tenant.secret_access_key)
        request.headers.update(signed)
        return request


@dataclass
class World:
    app: Starlette
    schema: Any
    tenant: Tenant
    mmc_headers: dict[str, str]
    mmc_ids: tuple[str, str]
    barcode: str
    report_query: dict[str, str]
    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = Path(tmp_path_factory.mktemp("fuzz-read"))
    svc: Runtime = open_runtime(Settings(data_dir=data, rate_limit="1000000/second",
                                           secret_key=b"fuzz-secret-key-0123456789abcdef"))
    tenant = make_tenant(svc, "Fuzz Retailer", ["store-01", "store-02"])
    with svc.db.write() as conn:
        auth, dev = admin.create_mmc_token(conn, tenant.retailer_id)
        store = admin.stores_by_id(conn, ["store-01"])["store-01"]
    app = create_app(svc.settings, runtime=svc)
    barcodes = [f"{n:011d}" + str(gs1_check_digit(f"{n:011d}")) for n in range(1, 6)]
    client_items = [item(f"sku-{n}", code, "store-01", brand_name="B") for n, code in
                    enumerate(barcodes)] + [item("sku-bad", "123", "store-01")]
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as client:
        resp = client.post("/v1/catalog/upload", json={"catalogItems": client_items},
                           auth=tenant.auth)
        assert resp.status_code == 201
        drain(svc)
    path = f"/shopping/v9.1/bmc/{store.merchant_id}/catalogs/{store.catalog_id}/rejection-report"
    query = parse_qs(sign_path(svc.settings.secret_key, path, int(time.time()) + 3600))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Credentials come from the harness (signature, tokens); their absence is tested elsewhere.
    schema.config.generation.update(with_security_parameters=False)
    yield World(app, schema, tenant, {"AuthenticationToken": auth, "DeveloperToken": dev},
                (str(store.merchant_id), str(store.catalog_id)), barcodes[0],
                {k: v[0] for k, v in query.items()})
    svc.close()


def _coin(case: schemathesis.Case) -> bool:
    """A stable half of the cases (by content), so swaps do not depend on test order."""
    seed = repr((case.path_parameters, case.query, case.body)).encode()
    return hashlib.sha256(seed).digest()[0] % 2 == 0


def _steer(world: World, case: schemathesis.Case) -> None:
    if not _coin(case):
        return
    if isinstance(case.body, dict) and isinstance(case.body.get("store_id"), str):
        case.body["store_id"] = "store-01"
        if isinstance(case.body.get("external_product_id"), str):
            case.body["external_product_id"] = world.barcode
    params = case.path_parameters
    if params and "bmcMerchantId" in params and "catalogId" in params:
        params["bmcMerchantId"], params["catalogId"] = world.mmc_ids
        if isinstance(case.query, dict) and "signature" in case.query:
            case.query.update(world.report_query)


def _run_operation(world: World, name: str, mode: GenerationMode) -> int:
    if name in MMC_PATHS:
        operation = world.schema[MMC_PATHS[name]]["GET"]
    else:
        operation = world.schema[f"/v1/catalog/{name}"]["POST"]
    seen = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @hsettings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))
    def fuzz(case: schemathesis.Case) -> None:
        nonlocal seen
        seen += 1
        if mode is GenerationMode.POSITIVE:
            _steer(world, case)
        if name == "getCatalogStatus":
            resp = case.call_and_validate(headers=world.mmc_headers, checks=CHECKS)
        elif name == "getRejectionReport":
            resp = case.call_and_validate(checks=CHECKS)
        else:
            resp = case.call_and_validate(auth=SigV4(world.tenant), checks=CHECKS)
        world.statuses.setdefault((name, mode.value), set()).add(resp.status_code)

    fuzz()
    return seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("name", [*JWO_OPERATIONS, *MMC_PATHS])
def test_fuzz_read_operation(world: World, name: str, mode: GenerationMode) -> None:
    seen = _run_operation(world, name, mode)
    # Hypothesis may stop early only when it has exhausted an input space; ours are large.
    assert seen >= EXAMPLES_PER_MODE * 2 // 3, f"only {seen} cases for {name} ({mode})"
    statuses = world.statuses[(name, mode.value)]
    print(f"{name} {mode.value}: {seen} cases, statuses {sorted(statuses)}")
    if mode is GenerationMode.POSITIVE:  # the steering reaches the success path
        assert 200 in statuses, statuses
    else:
        assert all(400 <= s < 500 for s in statuses), statuses
