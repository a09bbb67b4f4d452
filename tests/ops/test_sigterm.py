"""SIGTERM of a real `serve` while it processes (quality: sigterm): in-flight requests are
answered, the worker finishes its upload or gives the claim back within the grace period,
and the next start takes it up at once; everything applied exactly once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import tables
from catalog_ingest.storage.uploads import Upload
from tests.e2e.test_crash import ALL_KEYS, STORES, body_for
from tests.support.server import ServerProcess
from tests.support.signing import sign_headers
from tests.support.tenants import Tenant, make_tenant
from tests.support.upload_rows import upload_row

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops-e2e")]
SECRET_HEX = "4d" * 32
UPLOAD = "/v1/catalog/upload"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Runtime, Tenant]]:
    settings = Settings(data_dir=tmp_path / "data", secret_key=bytes.fromhex(SECRET_HEX))
    svc = open_runtime(settings)
    try:
        yield svc, make_tenant(svc, "Sigterm Retailer", list(STORES))
    finally:
        svc.close()


def server_for(svc: Runtime, grace: float) -> ServerProcess:
    return ServerProcess(svc.settings.data_dir, env={
        "CATALOG_INGEST_SECRET_KEY": SECRET_HEX, "CATALOG_INGEST_SHUTDOWN_GRACE": str(grace),
        "CATALOG_INGEST_RATE_LIMIT": "100000/second"})


def row(svc: Runtime, ingestion_id: str) -> Upload:
    return upload_row(svc, ingestion_id)


def lease_end(svc: Runtime, ingestion_id: str) -> float:
    c = tables.uploads.c
    with svc.db.read() as conn:
        value = conn.execute(select(c.lease_expires_at)
                             .where(c.ingestion_id == ingestion_id)).scalar_one()
    assert isinstance(value, float)
    return value


def upload_big_and_wait_claimed(svc: Runtime, tenant: Tenant, server: ServerProcess,
                                marker: str) -> str:
    with httpx.Client(base_url=server.url, auth=tenant.auth, timeout=60) as http:
        resp = http.post(UPLOAD, content=body_for(marker, list(ALL_KEYS)),
                         headers={"content-type": "application/json"})
    assert resp.status_code == 201, resp.text
    ingestion_id: str = resp.json()["ingestionId"]
    deadline = time.monotonic() + 60
    while row(svc, ingestion_id).status == "INQUEUE":
        assert time.monotonic() < deadline, "never claimed"
        time.sleep(0.002)  # polling the claim, with a deadline
    return ingestion_id


def terminate(server: ServerProcess, within: float) -> int:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    return server.proc.wait(timeout=within)  # a deadline, not a speed figure


def wait_done(svc: Runtime, ingestion_id: str) -> Upload:
    deadline = time.monotonic() + 120
    while (found := row(svc, ingestion_id)).status != "DONE":
        assert time.monotonic() < deadline, found
        time.sleep(0.02)  # polling a condition with a deadline
    return found


def catalog_markers(svc: Runtime) -> dict[str, int]:
    items = tables.items.c
    with svc.db.read() as conn:
        names = conn.execute(select(items.item_name)).scalars().all()
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_sigterm_past_the_grace_gives_the_claim_back_and_the_restart_takes_it_at_once(
        rig: tuple[Runtime, Tenant]) -> None:
    svc, tenant = rig
    for attempt in range(5):  # the worker might finish in the instant before the signal
        server = server_for(svc, grace=0.0)
        server.start()
        try:
            ingestion_id = upload_big_and_wait_claimed(svc, tenant, server, f"g0-{attempt}")
            claimed_until = lease_end(svc, ingestion_id)
            assert terminate(server, within=30) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        finally:
            server.kill()
        seen = row(svc, ingestion_id)
        if seen.status == "INPROGRESS":
            break
        assert seen.status == "DONE"
    assert seen.status == "INPROGRESS" and seen.attempts == 0
    assert lease_end(svc, ingestion_id) == 0.0  # given back on the way out, not left to lapse
    server = server_for(svc, grace=20.0)
    server.start()
    try:
        done = wait_done(svc, ingestion_id)
    finally:
        server.stop()
    assert done.attempts == 0 and done.completed_at is not None
    assert done.completed_at < claimed_until  # no wait for the old lease
    assert done.summary is not None and done.summary["itemsAccepted"] == len(ALL_KEYS)
    assert catalog_markers(svc) == {seen_marker(svc, ingestion_id): len(ALL_KEYS)}


def seen_marker(svc: Runtime, ingestion_id: str) -> str:
    items = tables.items.c
    with svc.db.read() as conn:
        names = set(conn.execute(select(items.item_name)
                                 .where(items.ingestion_id == ingestion_id)).scalars())
    assert len(names) == 1
    return names.pop()


def in_flight(server: ServerProcess) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "catalog_ingest_http_requests_in_flight":
                return sample.value
    return 0.0


def test_sigterm_within_the_grace_answers_in_flight_requests_and_finishes_the_upload(
        rig: tuple[Runtime, Tenant]) -> None:
    svc, tenant = rig
    server = server_for(svc, grace=20.0)
    server.start()
    late_body = body_for("late", [ALL_KEYS[0]])  # later wins: one item renamed
    headers = sign_headers("POST", server.url + UPLOAD, late_body,
                           {"content-type": "application/json"}, tenant.access_key_id,
                           tenant.secret_access_key)
    headers["content-length"] = str(len(late_body))
    go = threading.Event()
    answer: dict[str, httpx.Response] = {}

    def slow_body() -> Iterator[bytes]:
        yield late_body[:10]
        go.wait(60)
        yield late_body[10:]

    def send() -> None:
        answer["late"] = httpx.post(server.url + UPLOAD, content=slow_body(), headers=headers,
                                    timeout=60)

    try:
        ingestion_id = upload_big_and_wait_claimed(svc, tenant, server, "grace")
        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while in_flight(server) < 2:  # the slow request and this scrape itself
            assert time.monotonic() < deadline, "the slow request never arrived"
            time.sleep(0.01)  # polling a condition with a deadline
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        go.set()  # the rest of the in-flight request's body arrives after the signal
        sender.join(60)
        assert server.proc.wait(timeout=40) in (0, -signal.SIGTERM)
    finally:
        server.kill()
    assert answer["late"].status_code == 201, answer["late"].text
    finished = row(svc, ingestion_id)
    assert finished.status == "DONE" and finished.attempts == 0  # finished within the grace
    late_id = answer["late"].json()["ingestionId"]
    assert row(svc, late_id).status in ("INQUEUE", "DONE")
    server = server_for(svc, grace=20.0)
    server.start()
    try:
        wait_done(svc, late_id)
    finally:
        server.stop()
    assert catalog_markers(svc) == {"grace": len(ALL_KEYS) - 1, "late": 1}
