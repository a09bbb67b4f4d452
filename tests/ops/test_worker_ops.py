"""The worker as operators see it: a heartbeat while it processes, transient failures that
cost no attempt, an interrupted upload that is given back whole."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake, worker
from catalog_ingest.engine.worker import Worker, drain
from catalog_ingest.errors import TransientError
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables, uploads
from tests.support.tenants import Tenant, item


def accept(svc: Runtime, tenant: Tenant) -> str:
    body = json.dumps({"catalogItems": [item("sku-1", "012345678905", tenant.stores[0])]})
    return intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD,
                         body=body.encode(), item_count=1, store_ids=[tenant.stores[0]],
                         idempotency_key=None)


def row(svc: Runtime, ingestion_id: str) -> tuple[str, int, float | None]:
    c = tables.uploads.c
    with svc.db.read() as conn:
        found = conn.execute(select(c.status, c.attempts, c.lease_expires_at)
                             .where(c.ingestion_id == ingestion_id)).one()
    return found.status, found.attempts, found.lease_expires_at


def test_a_worker_busy_on_one_long_upload_keeps_its_heartbeat(
        svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    svc.settings = svc.settings.replace(lease_seconds=0.3)  # renewals every 0.1 s
    release = threading.Event()
    real_process = worker.process

    def long_upload(*args: Any) -> str:
        release.wait(60)  # stands for an upload that takes minutes
        return real_process(*args)

    monkeypatch.setattr(worker, "process", long_upload)
    ingestion_id = accept(svc, tenant)
    busy = Worker(svc)
    stop = threading.Event()
    thread = threading.Thread(target=busy.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while row(svc, ingestion_id)[0] != "INPROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.01)  # polling a condition with a deadline
        claimed_at = time.time()
        while True:  # the heartbeat moves on while the upload is still being processed
            with svc.db.read() as conn:
                beat = conn.execute(select(tables.workers.c.heartbeat_at).where(
                    tables.workers.c.worker_id == busy.worker_id)).scalar_one()
            if beat >= claimed_at + 1.0:
                break
            assert time.monotonic() < deadline, "no heartbeat while processing"
            time.sleep(0.02)  # polling a condition with a deadline
        assert row(svc, ingestion_id)[0] == "INPROGRESS"
        with svc.db.read() as conn:  # counted as live even in a window shorter than the upload
            live, _ = uploads.queue_stats(conn, time.time(), 0.5)
        assert live == 1
    finally:
        release.set()
        stop.set()
        svc.wake.set()
        thread.join(30)
    assert row(svc, ingestion_id)[0] == "DONE"


def test_a_transient_failure_gives_the_claim_back_without_an_attempt(
        svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    ingestion_id = accept(svc, tenant)
    real_get = svc.blobs.get

    def unreachable(key: str) -> bytes:
        raise TransientError("blob store unreachable")

    monkeypatch.setattr(svc.blobs, "get", unreachable)
    for _ in range(5):  # far more than max_attempts: still never FATAL
        with pytest.raises(TransientError):
            drain(svc)
        assert row(svc, ingestion_id) == ("INPROGRESS", 0, 0.0)
    monkeypatch.setattr(svc.blobs, "get", real_get)
    assert drain(svc) == ["DONE"]


def test_an_interrupted_upload_is_rolled_back_and_released(
        svc: Runtime, tenant: Tenant) -> None:
    ingestion_id = accept(svc, tenant)
    abort = threading.Event()
    abort.set()  # the grace period is already over
    assert Worker(svc, abort=abort).step() == (True, None)
    assert row(svc, ingestion_id) == ("INPROGRESS", 0, 0.0)
    with svc.db.read() as conn:
        assert conn.execute(select(tables.items.c.item_sku)).all() == []
    assert drain(svc) == ["DONE"]
