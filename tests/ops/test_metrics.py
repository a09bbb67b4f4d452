"""GET /metrics: request, upload, queue, processing, rate-limit and notification figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.engine.worker import drain
from catalog_ingest.notify.delivery import deliver_due
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from tests.support.tenants import Tenant, item, make_tenant

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UPLOAD = "/v1/catalog/upload"
STATUS = "/v1/catalog/getCatalogUploadStatus"


def scrape(client: TestClient | httpx.Client) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(resp.text)


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def upload(client: TestClient, tenant: Tenant, n: int) -> httpx.Response:
    body = {"catalogItems": [item(f"sku-{i}", "012345678905" if i == 0 else "4006381333931",
                                  tenant.stores[0]) for i in range(n)]}
    return client.post(UPLOAD, content=json.dumps(body).encode(), auth=tenant.auth,
                       headers={"content-type": "application/json"})


def test_requests_uploads_queue_and_processing_are_counted(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    first = upload(client, tenant, 3)
    assert first.status_code == 201
    ingestion_id = first.json()["ingestionId"]
    assert client.post(STATUS, json={"ingestionId": "nope"}).status_code == 403  # unsigned
    before = scrape(client)
    assert value(before, "catalog_ingest_http_requests_total", method="POST", route=UPLOAD,
                 status="201") == 1
    assert value(before, "catalog_ingest_http_requests_total", method="POST", route=STATUS,
                 status="403") == 1
    assert value(before, "catalog_ingest_uploads", status="INQUEUE") == 1
    assert value(before, "catalog_ingest_queue_depth") == 1
    assert value(before, "catalog_ingest_oldest_queued_upload_age_seconds") > 0
    assert value(before, "catalog_ingest_http_request_duration_seconds_count", method="POST",
                 route=UPLOAD) == 1

    assert drain(svc) == ["DONE"]
    status = client.post(STATUS, content=json.dumps({"ingestionId": ingestion_id}).encode(),
                         auth=tenant.auth, headers={"content-type": "application/json"})
    link = httpx.URL(status.json()["reportDownloadLink"])
    assert client.get(link.raw_path.decode()).status_code == 200
    after = scrape(client)
    assert value(after, "catalog_ingest_uploads", status="DONE") == 1
    assert value(after, "catalog_ingest_queue_depth") == 0
    assert value(after, "catalog_ingest_oldest_queued_upload_age_seconds") == 0
    assert value(after, "catalog_ingest_processed_items_total", kind="UPLOAD") == 3
    assert value(after, "catalog_ingest_processing_duration_seconds_count", kind="UPLOAD",
                 status="DONE") == 1
    assert value(after, "catalog_ingest_processing_items_per_second_count", kind="UPLOAD") == 1
    # The route label is the template: no ingestion id and no link signature in the metrics.
    report_route = "/v1/reports/{ingestion_id}.json"
    assert value(after, "catalog_ingest_http_requests_total", method="GET", route=report_route,
                 status="200") == 1
    text = client.get("/metrics").text
    assert ingestion_id not in text and "signature" not in text


def test_unrouted_paths_share_one_label(client: TestClient) -> None:
    for n in range(3):
        assert client.get(f"/no/such/{n}").status_code == 404
    samples = scrape(client)
    assert value(samples, "catalog_ingest_http_requests_total", method="GET", route="unrouted",
                 status="404") == 3
    assert not any("/no/such" in str(labels) for _, labels in samples)


@SQLITE_ONLY
def test_rate_limited_requests_are_counted(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=b"k" * 32, rate_limit="2/minute")
    svc = open_runtime(settings)
    try:
        tenant = make_tenant(svc, "Limited", ["s-1"])
        with TestClient(create_app(settings, runtime=svc)) as client:
            codes = [upload(client, tenant, 1).status_code for _ in range(5)]
            assert codes.count(201) == 2 and codes.count(429) == 3
            samples = scrape(client)
        assert value(samples, "catalog_ingest_rate_limited_requests_total", route=UPLOAD) == 3
        assert value(samples, "catalog_ingest_http_requests_total", method="POST", route=UPLOAD,
                     status="429") == 3
    finally:
        svc.close()


@SQLITE_ONLY
def test_notification_attempts_and_outbox_are_counted(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    from catalog_ingest.notify import subscriptions

    with svc.db.write() as conn:  # nothing listens there: every attempt fails
        subscriptions.subscribe_http(conn, tenant.retailer_id, "http://127.0.0.1:9/hook")
    assert deliver_due(svc) == 1
    samples = scrape(client)
    assert value(samples, "catalog_ingest_notification_attempts_total", outcome="FAILED") == 1
    assert value(samples, "catalog_ingest_notification_outbox", status="PENDING") == 1


@SQLITE_ONLY
def test_metrics_can_be_switched_off(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=b"k" * 32, metrics=False)
    with TestClient(create_app(settings)) as client:
        resp = client.get("/metrics")
    assert resp.status_code == 404 and resp.json() == {"message": "Not Found"}


@SQLITE_ONLY
def test_a_separate_worker_process_reports_through_the_multiprocess_dir(
        tmp_path: Path, svc: Runtime, tenant: Tenant, client: TestClient) -> None:
    assert upload(client, tenant, 4).status_code == 201
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
           "CATALOG_INGEST_DATA_DIR": str(svc.settings.data_dir),
           "CATALOG_INGEST_SECRET_KEY": svc.settings.secret_key.hex()}
    subprocess.run([sys.executable, "-m", "catalog_ingest", "worker", "--once"], env=env,
                   check=True, capture_output=True, timeout=120)
    # A scrape in another process (the API's) sees the worker process's figures.
    render = ("from catalog_ingest.observability.metrics import Metrics;"
              "import sys; sys.stdout.write(Metrics().render().decode())")
    out = subprocess.run([sys.executable, "-c", render], env=env, check=True,
                         capture_output=True, timeout=60, text=True).stdout
    samples = parse(out)
    assert value(samples, "catalog_ingest_processed_items_total", kind="UPLOAD") == 4
    assert value(samples, "catalog_ingest_processing_duration_seconds_count", kind="UPLOAD",
                 status="DONE") == 1
