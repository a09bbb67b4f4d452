"""Faults on real parts while uploads arrive and are processed (quality: faults): the data
disk fills (a small tmpfs), a private PostgreSQL cluster stops and starts, the S3 store
(moto behind a cuttable proxy) is unreachable. Meanwhile only the retry-recommended 500;
no 201 for anything not stored; afterwards service resumes by itself and every
acknowledged upload ends DONE."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from tests.support.moto import moto_server
from tests.support.pg_cluster import PrivateCluster
from tests.support.server import ServerProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.tenants import Tenant, make_tenant
from tests.support.upload_rows import upload_row

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]
RETRY = {"errorMsg": "Exception encountered while processing the request, please retry again."}
SECRET_HEX = "6b" * 32
#: `make soak` raises it: more uploads through each fault.
SCALE = int(os.environ.get("CATALOG_INGEST_FAULT_SCALE", "1"))
ITEMS = 100
STORE = "fault-store"


def ean13(number: int) -> str:
    body = f"2{number:011d}"
    weighted = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-weighted % 10)


@dataclass
class Answer:
    status: int
    body: object
    ingestion_id: str | None


class Load(threading.Thread):
    """Posts uploads (each its own SKUs and barcodes) one after another until stopped."""

    def __init__(self, url: str, tenant: Tenant) -> None:
        super().__init__(daemon=True)
        self.url, self.tenant = url, tenant
        self.answers: list[Answer] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, auth=self.tenant.auth, timeout=120) as http:
            n = 0
            while not self.stop.is_set():
                items = [{"item_sku": f"u{n}-{k}", "external_product_id": ean13(n * ITEMS + k),
                          "item_name": f"upload {n}", "store_id": STORE} for k in range(ITEMS)]
                resp = http.post("/v1/catalog/upload", json={"catalogItems": items})
                try:
                    body: object = resp.json()
                except ValueError:
                    body = resp.text
                ingestion_id = body.get("ingestionId") if isinstance(body, dict) else None
                self.answers.append(Answer(resp.status_code, body, ingestion_id))
                n += 1

    def wait_for(self, status: int, count: int, timeout: float = 120.0) -> None:
        """Until `count` more answers with `status` than there are now."""
        start = sum(1 for a in self.answers if a.status == status)
        deadline = time.monotonic() + timeout
        while sum(1 for a in self.answers if a.status == status) < start + count:
            assert self.is_alive(), "the load stopped"
            assert time.monotonic() < deadline, f"no {count} x {status}: {self.answers[-3:]}"
            time.sleep(0.02)  # polling a condition with a deadline

    def finish(self) -> None:
        self.stop.set()
        self.join(180)
        assert not self.is_alive()


def check_outcome(load: Load, svc: Runtime, fault: str) -> tuple[int, int]:
    """Only 201s and retry-500s; every 201 stored and DONE in the end; (201s, 500s)."""
    for answer in load.answers:
        assert answer.status in (201, 500), answer
        if answer.status == 500:
            assert answer.body == RETRY, answer
    acked = [a.ingestion_id for a in load.answers if a.status == 201]
    deadline = time.monotonic() + 180
    for ingestion_id in acked:
        assert ingestion_id is not None
        while True:
            found = upload_row(svc, ingestion_id)
            if found.status == "DONE":
                break
            assert found.status in ("INQUEUE", "INPROGRESS"), found
            assert time.monotonic() < deadline, found
            time.sleep(0.05)  # polling a condition with a deadline
        assert found.attempts == 0 and found.summary is not None
        assert found.summary["itemsAccepted"] == ITEMS
    failed = sum(1 for a in load.answers if a.status == 500)
    print(f"\nfault: {fault}: {len(acked)} acknowledged and DONE, {failed} retry-500s meanwhile, "
          "0 lost")
    return len(acked), failed


@dataclass
class Fault:
    """A fault to put on a running service and take off again, and what to expect meanwhile."""

    name: str
    inject: Callable[[], object]
    heal: Callable[[], object]
    retry_500s: int  # at least this many (times SCALE) while it lasts
    health: tuple[int, ...] = (503,)  # what /healthz may answer meanwhile
    health_timeout: float = 30.0


def survive(server: ServerProcess, svc: Runtime, tenant: Tenant, fault: Fault) -> None:
    """Under load: some 201s, the fault, retry-500s only, healed, 201s again; then every 201
    stored and DONE (`check_outcome`)."""
    load = Load(server.url, tenant)
    load.start()
    load.wait_for(201, 5 * SCALE)
    fault.inject()
    load.wait_for(500, fault.retry_500s * SCALE)
    health = httpx.get(server.url + "/healthz", timeout=fault.health_timeout)
    assert health.status_code in fault.health  # readable; never a crash
    fault.heal()
    load.wait_for(201, 5 * SCALE)
    load.finish()
    acked, failed = check_outcome(load, svc, fault.name)
    assert acked >= 10 * SCALE and failed >= fault.retry_500s * SCALE


def serve(data_dir: Path, env: dict[str, str], log: Path) -> ServerProcess:
    server = ServerProcess(data_dir, env={"CATALOG_INGEST_SECRET_KEY": SECRET_HEX,
                                          "CATALOG_INGEST_RATE_LIMIT": "100000/second", **env})
    server.log = log
    server.start()
    return server


# --- the data directory's disk fills ---------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"disk-full fault test SKIPPED: cannot mount a tmpfs ({done.stderr.strip()}"
                    "); it needs root or CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(ballast: Path) -> Path:
    """Grow the ballast file until its disk is full.

    The file is created before the load starts: once the uploads have filled the disk by
    themselves, tmpfs refuses even a new empty file (ENOSPC on open)."""
    chunk = b"\0" * 65536
    with open(ballast, "ab") as out:
        try:
            while True:
                out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return ballast


def test_a_full_data_disk_gets_retry_500s_and_service_resumes_when_space_is_freed(
        small_disk: Path, tmp_path: Path) -> None:
    svc = open_runtime(Settings(data_dir=small_disk, secret_key=bytes.fromhex(SECRET_HEX)))
    server = None
    try:
        tenant = make_tenant(svc, "Disk Retailer", [STORE])
        ballast = small_disk / "ballast"
        ballast.touch()
        server = serve(small_disk, {}, tmp_path / "server.log")
        survive(server, svc, tenant, Fault("data disk full", lambda: fill(ballast),
                                           ballast.unlink, retry_500s=5, health=(200, 503)))
    finally:
        if server is not None:
            server.stop()
        svc.close()


# --- PostgreSQL stops and starts --------------------------------------------------------------

@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster()
    try:
        private.create()
        yield private
    finally:
        private.destroy()


def test_postgres_stopped_and_started_under_load(cluster: PrivateCluster, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=cluster.url,
                        secret_key=bytes.fromhex(SECRET_HEX))
    svc = open_runtime(settings)
    server = None
    try:
        tenant = make_tenant(svc, "PG Retailer", [STORE])
        server = serve(settings.data_dir, {"CATALOG_INGEST_DATABASE_URL": cluster.url},
                       tmp_path / "server.log")
        survive(server, svc, tenant, Fault("PostgreSQL stopped and started", cluster.stop,
                                           cluster.start, retry_500s=5))
    finally:
        if server is not None:
            server.stop()
        svc.close()


# --- the blob store is unreachable ------------------------------------------------------------

@pytest.fixture
def moto(tmp_path: Path) -> Iterator[str]:
    with moto_server(tmp_path) as url:
        yield url


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polling a condition with a deadline


def test_blob_store_unreachable_for_a_while(moto: str, tmp_path: Path) -> None:
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                 aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="fault-blobs")
    proxy = TcpProxy("127.0.0.1", int(moto.rsplit(":", 1)[1]))
    proxy.up()
    settings = Settings(data_dir=tmp_path / "data", secret_key=bytes.fromhex(SECRET_HEX))
    svc = open_runtime(settings)  # provisioning and checks: the database only
    server = None
    try:
        tenant = make_tenant(svc, "S3 Retailer", [STORE])
        env = {**keys, "CATALOG_INGEST_BLOB_URL": "s3://fault-blobs/prefix",
               "AWS_ENDPOINT_URL_S3": proxy.url}
        server = serve(settings.data_dir, env, tmp_path / "server.log")
        survive(server, svc, tenant, Fault("S3 unreachable", proxy.down, proxy.up,
                                           retry_500s=3, health_timeout=60))
    finally:
        if server is not None:
            server.stop()
        proxy.down()
        svc.close()
