"""A real `serve` process on each database: upload → DONE → report, and kill -9 mid-processing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.server import ServerProcess
from tests.support.signing import BotocoreAuth
from tests.support.tenants import item

SECRET = "ab" * 32


def _admin(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "catalog_ingest", "admin", *args, "--json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, str] = json.loads(out)
    return result


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[tuple[ServerProcess, BotocoreAuth]]:
    env = {"CATALOG_INGEST_SECRET_KEY": SECRET, "CATALOG_INGEST_RATE_LIMIT": "1000/second"}
    if database_url:
        env["CATALOG_INGEST_DATABASE_URL"] = database_url
    proc = ServerProcess(tmp_path / "srv", env)
    full_env = {**proc.env}
    retailer = _admin(full_env, "create-retailer", "E2E")["retailer_id"]
    _admin(full_env, "add-store", retailer, "store-01")
    key = _admin(full_env, "create-key", retailer)
    proc.start()
    yield proc, BotocoreAuth(key["access_key_id"], key["secret_access_key"])
    proc.stop()


def _barcode(n: int) -> str:
    body = f"{200000000000 + n:012d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _upload(proc: ServerProcess, auth: BotocoreAuth, count: int, tag: str) -> str:
    items = [item(f"SKU-{n}", _barcode(n), "store-01", f"{tag} {n}") for n in range(count)]
    response = httpx.post(f"{proc.url}/v1/catalog/upload", json={"catalogItems": items},
                          auth=auth, timeout=60)
    assert response.status_code == 201, response.text
    ingestion_id: str = response.json()["ingestionId"]
    return ingestion_id


def _wait_done(proc: ServerProcess, auth: BotocoreAuth, ingestion_id: str) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = httpx.post(f"{proc.url}/v1/catalog/getCatalogUploadStatus",
                            json={"ingestionId": ingestion_id}, auth=auth, timeout=30).json()
        if answer["processingStatus"] in ("DONE", "FATAL"):
            return dict(answer)
        time.sleep(0.05)  # polling a condition with a deadline
    raise AssertionError(f"{ingestion_id} not done in time")


def test_upload_is_processed_and_reported(server: tuple[ServerProcess, BotocoreAuth]) -> None:
    proc, auth = server
    ingestion_id = _upload(proc, auth, 50, "first")
    answer = _wait_done(proc, auth, ingestion_id)
    assert answer["processingStatus"] == "DONE"
    report = httpx.get(answer["reportDownloadLink"], timeout=30).json()
    assert report["summary"]["itemsCreated"] == 50
    assert [r["index"] for r in report["itemResults"]] == list(range(50))


def _status_in_db(url: str, ingestion_id: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT status FROM uploads WHERE ingestion_id = :i")
            return conn.execute(query, {"i": ingestion_id}).scalar()
    finally:
        engine.dispose()


def test_kill_mid_processing_then_restart_finishes(
    server: tuple[ServerProcess, BotocoreAuth], database_url: str
) -> None:
    proc, auth = server
    url = (database_url.replace("postgresql://", "postgresql+psycopg://") if database_url
           else f"sqlite:///{proc.data_dir / 'catalog.db'}")
    ingestion_id = _upload(proc, auth, 10_000, "big")
    deadline = time.monotonic() + 60
    # None: waiting in the SQLite intake inbox (the worker child held the writer at the 201).
    while _status_in_db(url, ingestion_id) in (None, "INQUEUE") and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline
    proc.kill()
    assert _status_in_db(url, ingestion_id) in ("INPROGRESS", "DONE")
    proc.start()
    answer = _wait_done(proc, auth, ingestion_id)
    report = httpx.get(answer["reportDownloadLink"], timeout=30).json()
    assert answer["processingStatus"] == "DONE"
    assert report["summary"]["itemsCreated"] == 10_000
