"""`admin backup` while a real service takes uploads, then `admin restore`: the state at the
backup exactly (uploads, their blobs, the catalog), and nothing acknowledged after it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.signing import BotocoreAuth

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops-e2e")]
SECRET = "3c" * 32


def cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CATALOG_INGEST_DATA_DIR": str(data_dir),
           "CATALOG_INGEST_SECRET_KEY": SECRET}
    return subprocess.run([sys.executable, "-m", "catalog_ingest", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=check)


def ean13(number: int) -> str:
    body = f"2{number:011d}"
    weighted = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-weighted % 10)


def body(n: int) -> dict[str, Any]:
    """Ten items (and barcodes) only this upload has, all named after it."""
    return {"catalogItems": [{"item_sku": f"u{n:04d}-{k}", "external_product_id": ean13(n * 10 + k),
                              "item_name": f"u{n:04d}", "store_id": "b-store"} for k in range(10)]}


def state(database: Path) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """({ingestion id: status}, {(sku, name)}) as stored: the uploads table and the intake
    inbox beside it (uploads accepted while the writer was busy, INQUEUE until moved)."""
    with sqlite3.connect(database) as conn:
        uploads = dict(conn.execute("SELECT ingestion_id, status FROM uploads").fetchall())
        items = set(conn.execute("SELECT item_sku, item_name FROM items").fetchall())
    inbox = database.with_name("catalog-inbox.db")
    if inbox.exists():
        with sqlite3.connect(inbox) as conn:
            for (ingestion_id,) in conn.execute("SELECT ingestion_id FROM inbox"):
                uploads.setdefault(ingestion_id, "INQUEUE")
    return uploads, items


class Uploader(threading.Thread):
    def __init__(self, url: str, auth: BotocoreAuth) -> None:
        super().__init__(daemon=True)
        self.url, self.auth = url, auth
        self.acked: list[tuple[str, str, float]] = []  # (marker, ingestion id, ack time)
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, auth=self.auth, timeout=30) as http:
            n = 0
            while not self.stop.is_set():
                marker = f"u{n:04d}"
                resp = http.post("/v1/catalog/upload", json=body(n))
                assert resp.status_code == 201, resp.text
                self.acked.append((marker, resp.json()["ingestionId"], time.monotonic()))
                n += 1


def test_backup_while_running_then_restore_gives_the_state_at_the_backup(tmp_path: Path) -> None:
    data_dir, backup_dir = tmp_path / "data", tmp_path / "backup"
    retailer = json.loads(cli(data_dir, "admin", "create-retailer", "B", "--json").stdout)
    cli(data_dir, "admin", "add-store", retailer["retailer_id"], "b-store")
    key = json.loads(cli(data_dir, "admin", "create-key", retailer["retailer_id"],
                         "--json").stdout)
    auth = BotocoreAuth(key["access_key_id"], key["secret_access_key"])
    server = ServerProcess(data_dir, env={"CATALOG_INGEST_SECRET_KEY": SECRET,
                                          "CATALOG_INGEST_RATE_LIMIT": "100000/second"})
    server.start()
    uploader = Uploader(server.url, auth)
    try:
        uploader.start()
        deadline = time.monotonic() + 60
        while len(uploader.acked) < 20:  # some uploads in, several of them processed
            assert time.monotonic() < deadline and uploader.is_alive()
            time.sleep(0.02)  # polling a condition with a deadline
        backup_started = time.monotonic()
        done = cli(data_dir, "admin", "backup", str(backup_dir), "--json")
        backup_ended = time.monotonic()
        manifest = json.loads(done.stdout)
        after = len(uploader.acked)
        while len(uploader.acked) < after + 10:  # keep uploading after the backup
            assert time.monotonic() < deadline + 60 and uploader.is_alive()
            time.sleep(0.02)  # polling a condition with a deadline
    finally:
        uploader.stop.set()
        uploader.join(30)
        server.stop()
    assert manifest["blobs_missing"] == 0 and manifest["server_secret"] is False  # env secret
    snapshot = state(backup_dir / "catalog.db")
    assert cli(data_dir, "admin", "restore", str(backup_dir)).returncode == 0
    assert state(data_dir / "catalog.db") == snapshot
    uploads, items = snapshot
    before = {i for _, i, t in uploader.acked if t < backup_started}
    later = {i for _, i, t in uploader.acked if t > backup_ended}
    assert before <= set(uploads) and not later & set(uploads) and later
    # The catalog of the snapshot is exactly what its DONE uploads wrote: a consistent point.
    marker_of = {i: m for m, i, _ in uploader.acked}
    done_markers = {marker_of[i] for i, s in uploads.items() if s == "DONE"}
    assert {name for _, name in items} == done_markers and done_markers
    server = ServerProcess(data_dir, env={"CATALOG_INGEST_SECRET_KEY": SECRET,
                                          "CATALOG_INGEST_RATE_LIMIT": "100000/second"})
    server.start()
    try:
        with httpx.Client(base_url=server.url, auth=auth, timeout=30) as http:
            for ingestion_id in later:  # acknowledged after the backup: unknown now
                resp = http.post("/v1/catalog/getCatalogUploadStatus",
                                 json={"ingestionId": ingestion_id})
                assert resp.status_code == 400, resp.text
            deadline = time.monotonic() + 120
            for ingestion_id in uploads:  # the restored queue is processed; reports are there
                while True:
                    answer = http.post("/v1/catalog/getCatalogUploadStatus",
                                       json={"ingestionId": ingestion_id}).json()
                    if answer["processingStatus"] == "DONE":
                        break
                    assert time.monotonic() < deadline, answer
                    time.sleep(0.05)  # polling a condition with a deadline
                assert httpx.get(answer["reportDownloadLink"]).status_code == 200
    finally:
        server.stop()
    _, final_items = state(data_dir / "catalog.db")
    assert {name for _, name in final_items} == {marker_of[i] for i in uploads}


def test_backup_refuses_a_non_empty_directory_and_postgres(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    done = cli(tmp_path / "data", "admin", "backup", str(tmp_path / "full"), check=False)
    assert done.returncode == 1 and "not empty" in done.stderr
    env_pg = cli(tmp_path / "data", "admin", "restore", str(tmp_path / "nothing"), check=False)
    assert env_pg.returncode == 1 and "no complete backup" in env_pg.stderr
