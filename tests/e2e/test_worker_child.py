"""`serve`'s worker runs in a child process: woken at once, stopped with serve, killed with it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from tests.e2e.test_crash import ALL_KEYS, STORES, body_for
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, make_tenant

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops-e2e")]
SECRET_HEX = "5e" * 32
UPLOAD = "/v1/catalog/upload"
DEADLINE = 60.0
ENV = {"CATALOG_INGEST_SECRET_KEY": SECRET_HEX, "CATALOG_INGEST_RATE_LIMIT": "100000/second"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Runtime, Tenant]]:
    svc = open_runtime(Settings(data_dir=tmp_path / "data", secret_key=bytes.fromhex(SECRET_HEX)))
    try:
        yield svc, make_tenant(svc, "Child Worker Retailer", list(STORES))
    finally:
        svc.close()


@pytest.fixture
def server(rig: tuple[Runtime, Tenant]) -> Iterator[ServerProcess]:
    svc, _ = rig
    # An idle worker that is not woken looks for work only once a minute: every upload below
    # is processed within the deadline only if intake's wake-up reaches the child.
    proc = ServerProcess(svc.settings.data_dir, env={**ENV, "CATALOG_INGEST_POLL_INTERVAL": "60"})
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def worker_child(server: ServerProcess) -> psutil.Process:
    return psutil.Process(server.worker_pid())


def upload_and_wait_done(server: ServerProcess, tenant: Tenant, marker: str) -> str:
    with httpx.Client(base_url=server.url, auth=tenant.auth, timeout=60) as http:
        resp = http.post(UPLOAD, content=body_for(marker, list(ALL_KEYS)),
                         headers={"content-type": "application/json"})
        assert resp.status_code == 201, resp.text
        ingestion_id: str = resp.json()["ingestionId"]
        deadline = time.monotonic() + DEADLINE
        while True:
            answer = http.post("/v1/catalog/getCatalogUploadStatus",
                               json={"ingestionId": ingestion_id})
            assert answer.status_code == 200, answer.text
            status = answer.json()
            if status["processingStatus"] == "DONE":
                return ingestion_id
            assert time.monotonic() < deadline, f"not processed: {status}"
            time.sleep(0.02)  # polling a condition with a deadline


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_uploads_are_processed_by_a_child_woken_at_once_and_counted_by_serve(
        rig: tuple[Runtime, Tenant], server: ServerProcess) -> None:
    _, tenant = rig
    child = worker_child(server)
    assert server.proc is not None
    assert child.nice() == psutil.Process(server.proc.pid).nice() + 10  # requests go first
    for n in range(3):  # after the first, the child is idle waiting when each one arrives
        upload_and_wait_done(server, tenant, f"woken-{n}")
    # The child counts an upload just after committing its DONE (the items last): wait for it.
    deadline = time.monotonic() + DEADLINE
    while True:
        text = httpx.get(server.url + "/metrics", timeout=10).text
        items = metric(text, "catalog_ingest_processed_items_total", kind="UPLOAD")
        if items >= 3 * len(ALL_KEYS) or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polling a condition with a deadline
    assert metric(text, "catalog_ingest_processed_items_total", kind="UPLOAD") == 3 * len(ALL_KEYS)
    assert metric(text, "catalog_ingest_processing_duration_seconds_count", kind="UPLOAD",
                  status="DONE") == 3


def test_a_killed_serve_takes_its_worker_child_with_it(server: ServerProcess) -> None:
    child = worker_child(server)
    server.kill()
    gone, alive = psutil.wait_procs([child], timeout=DEADLINE)
    assert alive == [] and [p.pid for p in gone] == [child.pid]


def test_sigterm_stops_the_child_and_serve_waits_for_it(server: ServerProcess) -> None:
    child = worker_child(server)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=DEADLINE) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    assert not psutil.pid_exists(child.pid)  # serve reaped it before exiting


def test_worker_threads_keep_the_worker_in_serve(rig: tuple[Runtime, Tenant]) -> None:
    svc, tenant = rig
    proc = ServerProcess(svc.settings.data_dir, env=ENV,
                         args=["--worker-threads"])
    proc.start()
    try:
        assert proc.proc is not None and psutil.Process(proc.proc.pid).children() == []
        upload_and_wait_done(proc, tenant, "threaded")
    finally:
        proc.kill()


def test_a_worker_child_that_dies_is_started_again(rig: tuple[Runtime, Tenant],
                                                   server: ServerProcess) -> None:
    _, tenant = rig
    first = worker_child(server)
    first.kill()  # as the OOM killer would
    first.wait(DEADLINE)
    deadline = time.monotonic() + DEADLINE
    while True:
        assert server.proc is not None
        children = psutil.Process(server.proc.pid).children()
        if any("worker" in c.cmdline() and c.pid != first.pid for c in children):
            break
        assert time.monotonic() < deadline, "no new worker process"
        time.sleep(0.05)  # polling a condition with a deadline
    upload_and_wait_done(server, tenant, "after-restart")
    assert "the worker process exited" in server.log.read_text()
