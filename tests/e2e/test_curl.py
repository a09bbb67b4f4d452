"""End to end: provision with `catalog-ingest admin --json`, then a real server driven by curl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.signing import sign_headers

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

STORE = "e2e-store-01"
BARCODE = "012345678905"
MAX_BODY = 100_000


def admin(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CATALOG_INGEST_DATA_DIR": str(data_dir)}
    env.pop("CATALOG_INGEST_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "catalog_ingest", "admin", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def admin_json(data_dir: Path, *args: str) -> dict[str, Any]:
    done = admin(data_dir, *args, "--json", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    return record


@pytest.fixture
def provisioned(tmp_path: Path) -> dict[str, str]:
    data_dir = tmp_path / "data"
    retailer = admin_json(data_dir, "create-retailer", "E2E Retailer")
    assert retailer["retailer_id"]
    store = admin_json(data_dir, "add-store", retailer["retailer_id"], STORE)
    assert (store["store_id"], store["retailer_id"]) == (STORE, retailer["retailer_id"])
    assert store["merchant_id"] and store["catalog_id"]
    key = admin_json(data_dir, "create-key", retailer["retailer_id"])
    assert key["access_key_id"] and key["secret_access_key"]
    return {"data_dir": str(data_dir), "key": key["access_key_id"],
            "secret": key["secret_access_key"]}


@pytest.fixture
def server(provisioned: dict[str, str]) -> Iterator[ServerProcess]:
    proc = ServerProcess(Path(provisioned["data_dir"]),
                         env={"CATALOG_INGEST_MAX_BODY_BYTES": str(MAX_BODY)})
    proc.env.pop("CATALOG_INGEST_DATABASE_URL", None)
    proc.start()
    yield proc
    proc.stop()


def curl(url: str, body_file: Path, key: str, secret: str) -> tuple[int, dict[str, str], Any]:
    """POST with curl's own SigV4 signer; (status, lower-cased headers, JSON body)."""
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "--aws-sigv4", "aws:amz:us-east-1:execute-api",
         "--user", f"{key}:{secret}", "-H", "content-type: application/json",
         "-d", f"@{body_file}", "-D", "-", url],
        capture_output=True, text=True, timeout=60, check=True,
    )
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.split("\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_curl_upload_and_status_against_a_real_server(
        server: ServerProcess, provisioned: dict[str, str], tmp_path: Path) -> None:
    key, secret = provisioned["key"], provisioned["secret"]
    item = {"item_sku": "e2e-1", "external_product_id": BARCODE, "item_name": "Curl item",
            "store_id": STORE, "external_product_id_type": "UPC", "standard_price": "1.99"}
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"catalogItems": [item]}))
    status, headers, answer = curl(server.url + "/v1/catalog/upload", body, key, secret)
    assert status == 201, answer
    assert uuid.UUID(answer["ingestionId"]).version == 4
    uuid.UUID(headers["x-amzn-requestid"])

    query = tmp_path / "status.json"
    query.write_text(json.dumps(answer))
    deadline = time.monotonic() + 30
    while True:
        status, _, state = curl(server.url + "/v1/catalog/getCatalogUploadStatus", query,
                                key, secret)
        assert status == 200, state
        if state["processingStatus"] not in ("INQUEUE", "INPROGRESS"):
            break
        assert state["reportDownloadLink"] == ""
        assert time.monotonic() < deadline, "upload not processed within 30 s"
        time.sleep(0.05)  # polling a condition with a deadline
    assert state["processingStatus"] == "DONE"
    report = httpx.get(state["reportDownloadLink"], timeout=10)
    assert report.status_code == 200
    assert [r["action"] for r in report.json()["itemResults"]] == ["CREATED"]

    status, _, refused = curl(server.url + "/v1/catalog/upload", body, key, secret + "x")
    assert (status, set(refused)) == (403, {"message"})
    assert refused["message"].startswith("The request signature we calculated does not match")
    check_chunked_body_over_the_limit_is_413(server, provisioned)


def check_chunked_body_over_the_limit_is_413(server: ServerProcess,
                                             provisioned: dict[str, str]) -> None:
    body = json.dumps({"catalogItems": [{"item_sku": "x" * (MAX_BODY + 1)}]}).encode()
    headers = sign_headers("POST", server.url + "/v1/catalog/upload", body,
                           {"content-type": "application/json"},
                           provisioned["key"], provisioned["secret"])

    def chunks() -> Iterator[bytes]:
        for offset in range(0, len(body), 8192):
            yield body[offset:offset + 8192]

    resp = httpx.post(server.url + "/v1/catalog/upload", content=chunks(), headers=headers,
                      timeout=30)
    assert resp.status_code == 413
    assert resp.json() == {"message": "Request Entity Too Large"}
    uuid.UUID(resp.headers["x-amzn-RequestId"])


def test_admin_exit_codes(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    unknown = admin(Path(data_dir), "create-key", "ret-doesnotexist", "--data-dir", data_dir)
    assert unknown.returncode == 1
    assert "ret-doesnotexist" in unknown.stderr and "Traceback" not in unknown.stderr
    assert admin(Path(data_dir), "add-store", "--data-dir", data_dir).returncode == 2
    assert admin(Path(data_dir), "no-such-command").returncode == 2
    assert admin(Path(data_dir), "create-retailer", "x", "--bogus-flag").returncode == 2
