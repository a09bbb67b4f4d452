"""Retention with a controlled clock: old uploads, finished payloads and notification records
go in small batches; a purged id answers like an unknown one; nothing unfinished is touched."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.reports import report_key
from catalog_ingest.engine.retention import DAY, RetentionPass, purge, purge_batch
from catalog_ingest.engine.worker import Worker, drain
from catalog_ingest.errors import BlobNotFound
from catalog_ingest.notify import subscriptions
from catalog_ingest.notify.delivery import deliver_due
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables, uploads
from tests.support.tenants import Tenant, item

STATUS = "/v1/catalog/getCatalogUploadStatus"
UNKNOWN = {"errorMsg": "API invoked with Invalid parameter"}


def accept(svc: Runtime, tenant: Tenant, sku: str = "sku-1") -> str:
    body = json.dumps({"catalogItems": [item(sku, "012345678905", tenant.stores[0])]}).encode()
    return intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD, body=body,
                         item_count=1, store_ids=[tenant.stores[0]], idempotency_key=None)


def row(svc: Runtime, ingestion_id: str) -> uploads.Upload | None:
    with svc.db.read() as conn:
        return uploads.get_upload(conn, ingestion_id)


def status(client: TestClient, tenant: Tenant, ingestion_id: str) -> tuple[int, object]:
    resp = client.post(STATUS, content=json.dumps({"ingestionId": ingestion_id}).encode(),
                       auth=tenant.auth, headers={"content-type": "application/json"})
    return resp.status_code, resp.json()


def test_old_uploads_are_purged_and_then_answer_like_unknown_ids(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    done = [accept(svc, tenant, f"sku-{n}") for n in range(5)]
    assert drain(svc) == ["DONE"] * 5
    waiting = accept(svc, tenant, "sku-late")  # never processed: never purged, however old
    now = time.time()
    assert purge(svc, now + 89 * DAY).uploads == 0  # not old enough (payloads: see below)
    first = purge_batch(svc, now + 91 * DAY, batch=2)
    assert first.uploads == 2  # small batches
    total = purge(svc, now + 91 * DAY, batch=2)
    assert first.uploads + total.uploads == 5
    for ingestion_id in done:
        assert row(svc, ingestion_id) is None
        assert status(client, tenant, ingestion_id) == (400, UNKNOWN)
        with pytest.raises(BlobNotFound):
            svc.blobs.get(report_key(ingestion_id))
    assert status(client, tenant, "never-existed") == (400, UNKNOWN)
    kept = row(svc, waiting)
    assert kept is not None and kept.status == "INQUEUE"
    assert svc.blobs.get(kept.payload_key)
    assert drain(svc) == ["DONE"]  # the queued upload is still processed normally


def test_finished_payloads_go_sooner_and_the_upload_stays(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    ingestion_id = accept(svc, tenant)
    stored = row(svc, ingestion_id)
    assert stored is not None
    payload = stored.payload_key
    now = time.time()
    assert purge(svc, now + 30 * DAY).payloads == 0  # unfinished: its payload is needed
    assert drain(svc) == ["DONE"]
    assert purge(svc, now + 6 * DAY).payloads == 0
    assert purge(svc, now + 8 * DAY).payloads == 1
    with pytest.raises(BlobNotFound):
        svc.blobs.get(payload)
    code, answer = status(client, tenant, ingestion_id)
    assert code == 200 and answer["processingStatus"] == "DONE"  # type: ignore[index]
    assert svc.blobs.get(report_key(ingestion_id))
    assert purge(svc, now + 8 * DAY).payloads == 0  # once only


def test_old_notification_records_are_purged(svc: Runtime, tenant: Tenant) -> None:
    with svc.db.write() as conn:  # nothing listens there: one FAILED attempt, still PENDING
        subscriptions.subscribe_http(conn, tenant.retailer_id, "http://127.0.0.1:9/hook")
    assert deliver_due(svc) == 1
    with svc.db.write() as conn:  # and one finished message
        conn.execute(tables.outbox.update().values(status="GAVE_UP", finished_at=time.time()))

    def counts() -> tuple[int, int]:
        with svc.db.read() as conn:
            return (conn.execute(select(func.count()).select_from(tables.outbox)).scalar_one(),
                    conn.execute(select(func.count())
                                 .select_from(tables.delivery_attempts)).scalar_one())

    assert counts() == (1, 1)
    assert purge(svc, time.time() + 10 * DAY).notifications == 0
    assert purge(svc, time.time() + 91 * DAY).notifications == 1  # the message, its attempt
    assert counts() == (0, 0)


def test_a_pass_slower_than_the_backoff_attempts_a_failing_message_once(
        svc: Runtime, tenant: Tenant) -> None:
    """`deliver_due` (worker --once) on a machine slow enough that the first retry is due
    before the pass has looked again: still one attempt per message."""
    with svc.db.write() as conn:
        subscriptions.subscribe_http(conn, tenant.retailer_id, "http://127.0.0.1:9/hook")
    ticks = iter(range(0, 10_000, 60))  # each look at the clock a minute later
    assert deliver_due(svc, clock=lambda: float(time.time() + next(ticks))) == 1
    with svc.db.read() as conn:
        assert conn.execute(select(func.count())
                            .select_from(tables.delivery_attempts)).scalar_one() == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_zero_switches_a_retention_off(svc: Runtime, tenant: Tenant) -> None:
    svc.settings = svc.settings.replace(retention_days=0.0, payload_retention_days=0.0)
    accept(svc, tenant)
    assert drain(svc) == ["DONE"]
    assert purge(svc, time.time() + 10_000 * DAY).total == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_idle_pass_runs_on_its_interval_and_yields_to_new_work(
        svc: Runtime, tenant: Tenant) -> None:
    ids = [accept(svc, tenant, f"sku-{n}") for n in range(3)]
    assert drain(svc) == ["DONE"] * 3
    clock = [time.time() + 91 * DAY]
    retention = RetentionPass(svc, clock=lambda: clock[0])
    svc.wake.set()  # an upload just arrived: the pass stops before its first batch
    first = retention.maybe_run()
    assert first is not None and first.total == 0
    svc.wake.clear()
    assert retention.maybe_run() is None  # the interval has not passed
    clock[0] += svc.settings.retention_interval
    again = retention.maybe_run()
    assert again is not None and again.uploads == 3
    assert all(row(svc, i) is None for i in ids)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_running_worker_purges_when_idle(svc: Runtime, tenant: Tenant) -> None:
    # A retention of ~0.1 s: the worker's own idle pass purges the upload soon after DONE.
    svc.settings = svc.settings.replace(retention_days=1e-6, retention_interval=0.0)
    ingestion_id = accept(svc, tenant)
    stop = threading.Event()
    thread = threading.Thread(target=Worker(svc).run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while row(svc, ingestion_id) is not None:
            assert time.monotonic() < deadline, "never purged"
            time.sleep(0.02)  # polling a condition with a deadline
    finally:
        stop.set()
        svc.wake.set()
        thread.join(30)
    with svc.db.read() as conn:
        live = conn.execute(select(tables.items.c.item_sku)).scalars().all()
    assert live == ["sku-1"]  # the catalog itself is never purged
