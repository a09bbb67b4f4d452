"""Durability and exactly-once under kill -9 of a real `serve` process (quality: durability).

One data dir and one provisioning across all trials. Each trial starts the server, a client
uploads (every item named after its upload, so the catalog tells which upload set it), and the
server is killed -9 at a seeded random moment: any time, the instant after a 201, or while a
5,000-item upload is processed. At the end every acknowledged upload must be DONE, and a replay
of the stored uploads in acceptance order must give each report's summary and the final
catalog exactly. An upload stored without its 201 reaching the client (the kill beat the
answer) is allowed: it was accepted, so it is replayed like the others.
"""

from __future__ import annotations

import math
import os
import queue
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest
from sqlalchemy import select

from catalog_ingest.engine.reports import report_key
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import tables, uploads
from catalog_ingest.storage.uploads import Upload
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, make_tenant
from tests.support.upload_rows import upload_row

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("crash")]

TRIALS = int(os.environ.get("CATALOG_INGEST_CI_TRIALS", "50"))
SEED = int(os.environ.get("CATALOG_INGEST_CRASH_SEED", "20261122"))
SECRET_HEX = "5e" * 32
STORES = ("crash-a", "crash-b")
SKUS_PER_STORE = 5_000
ALL_KEYS = [(store, f"sku-{n:05d}") for store in STORES for n in range(SKUS_PER_STORE)]
UPLOAD = "/v1/catalog/upload"
STATUS = "/v1/catalog/getCatalogUploadStatus"
ACTIVE = ("INQUEUE", "INPROGRESS")

Key = tuple[str, str]


def ean13(store_index: int, sku_index: int) -> str:
    """A valid EAN-13, unique per (store, sku): the check digit computed here, independently."""
    body = f"2{store_index}{sku_index:010d}"
    weighted = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-weighted % 10)


def body_for(marker: str, keys: list[Key]) -> bytes:
    """An upload whose every item is named `marker`, so the catalog tells which upload set it."""
    items = [{"item_sku": sku, "external_product_id": ean13(STORES.index(store), int(sku[4:])),
              "external_product_id_type": "EAN", "item_name": marker, "store_id": store}
             for store, sku in keys]
    return msgspec.json.encode({"catalogItems": items})


@dataclass
class Sent:
    """One upload the client attempted; `ingestion_id` is set only when a 201 came back."""

    marker: str
    keys: list[Key]
    ingestion_id: str | None = None


@dataclass
class Rig:
    """One data dir and one provisioning that every server start of a test shares."""

    data_dir: Path
    svc: Runtime
    tenant: Tenant
    sent: list[Sent] = field(default_factory=list)

    def server(self) -> ServerProcess:
        env = {"CATALOG_INGEST_SECRET_KEY": SECRET_HEX,
               "CATALOG_INGEST_RATE_LIMIT": "1000000/second"}
        return ServerProcess(self.data_dir, env=env)

    def http(self, server: ServerProcess) -> httpx.Client:
        return httpx.Client(base_url=server.url, auth=self.tenant.auth, timeout=60.0,
                            headers={"content-type": "application/json"})

    def rows(self) -> list[Upload]:
        with self.svc.db.read() as conn:
            found = uploads.list_uploads(conn, self.tenant.retailer_id, 1_000_000, None, None)
        return sorted(found, key=lambda u: u.seq)

    def row(self, ingestion_id: str) -> Upload:
        return upload_row(self.svc, ingestion_id)

    def lease_expiry(self, ingestion_id: str) -> float:
        column = tables.uploads.c
        with self.svc.db.read() as conn:
            expiry = conn.execute(select(column.lease_expires_at)
                                  .where(column.ingestion_id == ingestion_id)).scalar_one()
        assert isinstance(expiry, float), expiry
        return expiry


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings(data_dir=tmp_path / "data", secret_key=bytes.fromhex(SECRET_HEX))
    svc = open_runtime(settings)
    try:
        yield Rig(settings.data_dir, svc, make_tenant(svc, "Crash Retailer", list(STORES)))
    finally:
        svc.close()


class Uploader(threading.Thread):
    """Posts a plan of uploads one after the other until the server dies or the plan ends."""

    def __init__(self, http: httpx.Client, plan: list[Sent], record: list[Sent]) -> None:
        super().__init__(name="uploader", daemon=True)
        self.http, self.plan, self.record = http, plan, record
        self.acks: queue.Queue[str] = queue.Queue()
        self.failure: str | None = None

    def run(self) -> None:
        for sent in self.plan:
            self.record.append(sent)  # attempted: it may be stored even if no 201 arrives
            try:
                resp = self.http.post(UPLOAD, content=body_for(sent.marker, sent.keys))
            except httpx.TransportError:
                return  # the server was killed under this request
            if resp.status_code != 201:
                self.failure = f"{sent.marker}: {resp.status_code} {resp.text}"
                return
            sent.ingestion_id = resp.json()["ingestionId"]
            self.acks.put(sent.ingestion_id)

    def wait_acks(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` 201s came back (or the plan ended without them)."""
        deadline = time.monotonic() + timeout
        while count > 0:
            try:
                self.acks.get(timeout=0.05)
                count -= 1
            except queue.Empty:
                if not self.is_alive() and self.acks.empty():
                    return
                assert time.monotonic() < deadline, f"no 201 in {timeout} s: {self.failure}"


def trial_plan(rng: random.Random, trial: int, big_first: bool) -> list[Sent]:
    sizes = [int(math.exp(rng.uniform(math.log(50), math.log(2000))))
             for _ in range(rng.randint(2, 6))]
    if big_first:
        sizes.insert(0, 5_000)
    return [Sent(f"t{trial:03d}-u{n}", rng.sample(ALL_KEYS, size)) for n, size in enumerate(sizes)]


def run_trial(rig: Rig, rng: random.Random, trial: int) -> tuple[str, float]:
    """Start the server, upload, kill -9 it at a moment drawn from `rng`; (mode, startup s)."""
    mode = rng.choice(("random", "after-ack", "processing-big"))
    plan = trial_plan(rng, trial, big_first=mode == "processing-big")
    server = rig.server()
    started = time.monotonic()
    server.start()
    startup = time.monotonic() - started
    with rig.http(server) as http:
        uploader = Uploader(http, plan, rig.sent)
        uploader.start()
        try:
            if mode == "after-ack":
                uploader.wait_acks(rng.randint(1, min(3, len(plan))))  # the instant after a 201
            elif mode == "processing-big":
                uploader.wait_acks(1)
                threading.Event().wait(rng.uniform(0.0, 0.4))  # the random kill moment
            else:
                threading.Event().wait(rng.uniform(0.0, 0.4))
        finally:
            server.kill()
        uploader.join(60)
    assert not uploader.is_alive()
    assert uploader.failure is None, uploader.failure
    return mode, startup


def wait_all_terminal(rig: Rig, timeout: float) -> list[Upload]:
    deadline = time.monotonic() + timeout
    while True:
        rows = rig.rows()
        if not any(u.status in ACTIVE for u in rows):
            return rows
        assert time.monotonic() < deadline, [(u.ingestion_id, u.status) for u in rows
                                              if u.status in ACTIVE]
        time.sleep(0.05)  # polling a condition with a deadline


def payload(rig: Rig, upload: Upload) -> tuple[str, list[Key]]:
    """(marker, keys) of the upload as stored: what the service will apply."""
    doc = msgspec.json.decode(rig.svc.blobs.get(upload.payload_key))
    items = doc["catalogItems"]
    markers = {i["item_name"] for i in items}
    assert len(markers) == 1, (upload.ingestion_id, markers)
    return markers.pop(), [(i["store_id"], i["item_sku"]) for i in items]


def check_exactly_once(rig: Rig, rows: list[Upload]) -> int:
    """Replay the stored uploads in acceptance order; reports and catalog must match exactly.

    Returns how many stored uploads were never acknowledged (their 201 was lost in a kill).
    """
    by_marker = {s.marker: s for s in rig.sent}
    acked = {s.ingestion_id: s for s in rig.sent if s.ingestion_id}
    stored = {u.ingestion_id for u in rows}
    assert set(acked) <= stored, f"acknowledged uploads lost: {set(acked) - stored}"
    oracle: dict[Key, tuple[str, str]] = {}
    markers_seen: set[str] = set()
    for upload in rows:
        assert upload.status == "DONE" and upload.attempts == 0, upload
        marker, keys = payload(rig, upload)
        assert marker in by_marker and marker not in markers_seen, f"stored twice: {marker}"
        markers_seen.add(marker)
        assert keys == by_marker[marker].keys
        if upload.ingestion_id in acked:
            assert acked[upload.ingestion_id].marker == marker
        created = sum(1 for k in keys if k not in oracle)
        expected = {"itemsReceived": len(keys), "itemsAccepted": len(keys), "itemsRejected": 0,
                    "itemsCreated": created, "itemsUpdated": len(keys) - created,
                    "itemsUnchanged": 0, "warnings": 0}
        report = msgspec.json.decode(rig.svc.blobs.get(report_key(upload.ingestion_id)))
        assert report["processingStatus"] == "DONE"
        assert report["summary"] == expected == upload.summary, (marker, report["summary"])
        assert len(report["itemResults"]) == len(keys)
        oracle.update((k, (marker, upload.ingestion_id)) for k in keys)
    assert catalog(rig) == oracle
    return len(stored - set(acked))


def catalog(rig: Rig) -> dict[Key, tuple[str, str]]:
    items = tables.items.c
    with rig.svc.db.read() as conn:
        found = conn.execute(select(items.store_id, items.item_sku, items.item_name,
                                    items.ingestion_id, items.active)).all()
    assert all(row.active for row in found)
    return {(r.store_id, r.item_sku): (r.item_name, r.ingestion_id) for r in found}


def check_statuses_over_api(rig: Rig, server: ServerProcess) -> None:
    """Every acknowledged id is known to the service (never the 400 of an unknown id) and DONE."""
    with rig.http(server) as http:
        for sent in rig.sent:
            if sent.ingestion_id is None:
                continue
            resp = http.post(STATUS, json={"ingestionId": sent.ingestion_id})
            assert resp.status_code == 200, (sent.marker, resp.text)
            answer = resp.json()
            assert answer["processingStatus"] == "DONE", (sent.marker, answer)
            assert answer["reportDownloadLink"].startswith(server.url)


def final_check(rig: Rig) -> tuple[int, int]:
    """Restart once more, let everything finish, then check; (acknowledged, unacknowledged)."""
    server = rig.server()
    server.start()
    try:
        rows = wait_all_terminal(rig, timeout=180.0)
        check_statuses_over_api(rig, server)
    finally:
        server.stop()
    unacked = check_exactly_once(rig, rig.rows())
    assert len(rig.rows()) == len(rows)
    return sum(1 for s in rig.sent if s.ingestion_id), unacked


def test_kills_at_random_moments_lose_nothing_and_apply_everything_once(rig: Rig) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    modes = {"random": 0, "after-ack": 0, "processing-big": 0}
    left_inprogress, startups = 0, []
    for trial in range(TRIALS):
        mode, startup = run_trial(rig, rng, trial)
        modes[mode] += 1
        startups.append(startup)
        left_inprogress += sum(1 for u in rig.rows() if u.status == "INPROGRESS")
    acked, unacked = final_check(rig)
    # Those two modes kill only after a 201: the client really got uploads through.
    assert acked >= modes["after-ack"] + modes["processing-big"] > 0
    print(f"\ncrash: {TRIALS} trials {modes}, {acked} acknowledged, {unacked} stored without "
          f"a 201 (allowed: the kill beat the answer), {left_inprogress} left INPROGRESS by a "
          f"kill; startup mean {sum(startups) / len(startups):.2f} s, max {max(startups):.2f} s; "
          f"total {time.monotonic() - started:.1f} s (seed {SEED})")


def kill_while_inprogress(rig: Rig, marker: str) -> tuple[Sent, Upload, int]:
    """Upload 10,000 items, kill -9 the server as soon as its worker has claimed them."""
    server = rig.server()
    server.start()
    pid = server.worker_pid()  # the worker is serve's child process
    sent = Sent(marker, list(ALL_KEYS))
    rig.sent.append(sent)
    try:
        with rig.http(server) as http:
            resp = http.post(UPLOAD, content=body_for(marker, sent.keys))
        assert resp.status_code == 201, resp.text
        sent.ingestion_id = resp.json()["ingestionId"]
        deadline = time.monotonic() + 60.0
        while rig.row(sent.ingestion_id).status == "INQUEUE":
            assert time.monotonic() < deadline, "the worker never claimed the upload"
            time.sleep(0.002)  # polling the claim, with a deadline
    finally:
        server.kill()
    return sent, rig.row(sent.ingestion_id), pid


def test_upload_left_inprogress_by_a_dead_worker_is_taken_up_again(rig: Rig) -> None:
    for attempt in range(5):  # the worker might finish in the instant between poll and kill
        sent, seen, dead_pid = kill_while_inprogress(rig, f"big-{attempt}")
        if seen.status == "INPROGRESS":
            break
        assert seen.status == "DONE"
    assert seen.status == "INPROGRESS", "never caught a claimed upload before the kill"
    assert seen.claimed_by is not None and f":{dead_pid}:" in seen.claimed_by
    assert sent.ingestion_id is not None
    dead_lease_end = rig.lease_expiry(sent.ingestion_id)
    server = rig.server()
    server.start()
    try:
        deadline = time.monotonic() + 120.0
        while (after := rig.row(sent.ingestion_id)).status in ACTIVE:
            assert time.monotonic() < deadline, "the upload was never taken up again"
            time.sleep(0.02)  # polling a condition with a deadline
        check_statuses_over_api(rig, server)
    finally:
        server.stop()
    assert after.status == "DONE" and after.attempts == 0  # a kill is not a failed attempt
    assert after.claimed_by is not None and f":{dead_pid}:" not in after.claimed_by
    # Finished (by the service's own clock) before the dead worker's lease would have run out:
    # the restart freed the claim at once instead of waiting the lease out.
    assert after.completed_at is not None and after.completed_at < dead_lease_end
    assert after.summary is not None
    assert after.summary["itemsReceived"] == after.summary["itemsAccepted"] == 10_000
    check_exactly_once(rig, rig.rows())
