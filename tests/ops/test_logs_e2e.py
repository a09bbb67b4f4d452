"""Structured logs of a real `serve --log-format json`: one line per request and per upload
state change, and no secret in any line (quality: secrets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.signing import BotocoreAuth

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops-e2e")]
SERVER_SECRET = "7a" * 32
MMC_BASE = "/shopping/v9.1/bmc"


def admin(data_dir: Path, *args: str) -> tuple[dict[str, Any], str]:
    """Run `catalog-ingest admin … --json`; (its record, its stderr)."""
    env = {**os.environ, "CATALOG_INGEST_DATA_DIR": str(data_dir),
           "CATALOG_INGEST_SECRET_KEY": SERVER_SECRET}
    done = subprocess.run([sys.executable, "-m", "catalog_ingest", "admin", *args, "--json"],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    record: dict[str, Any] = json.loads(done.stdout)
    return record, done.stderr


def wait_done(http: httpx.Client, ingestion_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer: dict[str, Any] = http.post("/v1/catalog/getCatalogUploadStatus",
                                           json={"ingestionId": ingestion_id}).json()
        if answer["processingStatus"] == "DONE":
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)  # polling a condition with a deadline


def test_json_logs_have_request_and_state_lines_and_no_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    retailer, err1 = admin(data_dir, "create-retailer", "Log Retailer")
    store, err2 = admin(data_dir, "add-store", retailer["retailer_id"], "log-store")
    key, err3 = admin(data_dir, "create-key", retailer["retailer_id"])
    tokens, err4 = admin(data_dir, "create-mmc-token", retailer["retailer_id"])
    secrets = [key["secret_access_key"], tokens["authentication_token"],
               tokens["developer_token"], SERVER_SECRET]
    server = ServerProcess(data_dir, env={"CATALOG_INGEST_SECRET_KEY": SERVER_SECRET},
                           args=["--log-format", "json"])
    server.start()
    request_ids: list[str] = []
    try:
        auth = BotocoreAuth(key["access_key_id"], key["secret_access_key"])
        with httpx.Client(base_url=server.url, auth=auth, timeout=30) as http:
            items = [{"item_sku": "good", "external_product_id": "012345678905",
                      "item_name": "Good", "store_id": "log-store"},
                     {"item_sku": "bad", "external_product_id": "123", "item_name": "Bad",
                      "store_id": "log-store"}]
            resp = http.post("/v1/catalog/upload", json={"catalogItems": items})
            assert resp.status_code == 201, resp.text
            request_ids.append(resp.headers["x-amzn-RequestId"])
            ingestion_id = resp.json()["ingestionId"]
            link = wait_done(http, ingestion_id)["reportDownloadLink"]
            secrets.append(httpx.URL(link).params["signature"])
            report = httpx.get(link, timeout=30)
            assert report.status_code == 200
            request_ids.append(report.headers["x-amzn-RequestId"])
            mmc_headers = {"AuthenticationToken": tokens["authentication_token"],
                           "DeveloperToken": tokens["developer_token"]}
            path = f"{MMC_BASE}/{store['merchant_id']}/catalogs/{store['catalog_id']}/status"
            status = httpx.get(server.url + path, headers=mmc_headers, timeout=30)
            assert status.status_code == 200, status.text
            rejection_link = status.json()["rejectionReportUrl"]
            secrets.append(httpx.URL(rejection_link).params["signature"])
            assert httpx.get(rejection_link, timeout=30).status_code == 200
            wrong = httpx.post(server.url + "/v1/catalog/upload", json={"catalogItems": items},
                               auth=BotocoreAuth(key["access_key_id"], "wrong-secret"))
            assert wrong.status_code == 403
            secrets.append(wrong.request.headers["authorization"].rsplit("Signature=", 1)[1])
            secrets.append(resp.request.headers["authorization"].rsplit("Signature=", 1)[1])
    finally:
        server.stop()
    text = server.log.read_text()
    for secret in secrets:
        assert secret not in text
        for err in (err1, err2, err3, err4):
            assert secret not in err
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["event"] == "request"]
    by_id = {line["request_id"]: line for line in requests}
    upload_line = by_id[request_ids[0]]
    assert upload_line["route"] == "/v1/catalog/upload" and upload_line["status"] == 201
    assert upload_line["retailer_id"] == retailer["retailer_id"]
    assert upload_line["method"] == "POST" and upload_line["duration_ms"] > 0
    assert by_id[request_ids[1]]["route"] == "/v1/reports/{ingestion_id}.json"
    mmc = [line for line in requests if line["route"].startswith(MMC_BASE)]
    assert mmc and all(line["retailer_id"] == retailer["retailer_id"]
                       for line in mmc if line["route"].endswith("/status"))
    assert any(line["status"] == 403 and "retailer_id" not in line for line in requests)
    states = [(line["upload_status"], line.get("note")) for line in lines
              if line["event"] == "upload state" and line["ingestion_id"] == ingestion_id]
    assert states == [("INQUEUE", None), ("INPROGRESS", None), ("DONE", None)]
    accepted = next(line for line in lines if line["event"] == "upload state"
                    and line["upload_status"] == "INQUEUE")
    assert accepted["request_id"] == request_ids[0]  # logged inside the request's context
