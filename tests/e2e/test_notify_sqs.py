"""End to end: notifications into an SQS queue (moto in server mode), embedded and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from catalog_ingest.client.notify_wait import service_verifier, wait_for_completions
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.e2e.test_notify_http import admin_json, clean_env
from tests.support import pg
from tests.support.moto import FAKE_KEYS, moto_server
from tests.support.server import ServerProcess
from tests.support.sns_receiver import sns_signature_valid
from tests.support.tenants import Tenant, item, make_tenant

BARCODES = ["012345678905", "4006381333931", "036000291452"]


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def new_queue(moto_url: str) -> tuple[Any, str]:
    client = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1", **FAKE_KEYS)
    return client, client.create_queue(QueueName=f"done-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def upload(server: ServerProcess, tenant: Tenant, n: int) -> str:
    body = json.dumps({"catalogItems": [item(f"SKU-{n}", BARCODES[n], tenant.stores[0])]})
    resp = httpx.post(server.url + "/v1/catalog/upload", content=body.encode(),
                      auth=tenant.auth, headers={"content-type": "application/json"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ingestionId"])


def subscribe(env: dict[str, str], tenant: Tenant, queue_url: str, moto_url: str) -> None:
    sub = admin_json(env, "subscribe", tenant.retailer_id, "--sqs-queue-url", queue_url,
                     "--sqs-endpoint-url", moto_url, "--sqs-region", "us-east-1",
                     "--sqs-access-key-id", "testing", "--sqs-secret-access-key", "testing")
    assert sub["status"] == "CONFIRMED"


def receive_one(client: Any, queue_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)
        for message in answer.get("Messages", []):
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            doc: dict[str, Any] = json.loads(message["Body"])
            return doc
    raise AssertionError("no message arrived in the queue")


def test_embedded_service_publishes_to_sqs(tmp_path: Path, moto_url: str) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)
    svc = open_runtime(Settings(data_dir=data_dir))
    tenant = make_tenant(svc, "Queued", ["q-store-1"])
    svc.close()
    server = ServerProcess(data_dir)
    server.env = env
    client, queue_url = new_queue(moto_url)
    subscribe(env, tenant, queue_url, moto_url)
    server.start()
    try:
        first = upload(server, tenant, 0)
        doc = receive_one(client, queue_url)  # the body is the SNS Notification document
        assert doc["Type"] == "Notification" and doc["SignatureVersion"] == "2"
        assert doc["SigningCertURL"] == server.url + "/sns/signing-cert.pem"
        cert = httpx.get(doc["SigningCertURL"], timeout=10).content
        assert sns_signature_valid(doc, cert)
        message = json.loads(doc["Message"])
        assert (message["ingestionId"], message["processingStatus"]) == (first, "DONE")
        assert httpx.get(message["reportDownloadLink"], timeout=10).status_code == 200
        rest = [upload(server, tenant, n) for n in (1, 2)]
        got = wait_for_completions(rest, sqs_queue_url=queue_url, timeout=30,
                                   verifier=service_verifier(server.url),
                                   sqs_client_kwargs={"endpoint_url": moto_url,
                                                      "region_name": "us-east-1", **FAKE_KEYS})
        assert set(got) == set(rest)
        assert all(c.processing_status == "DONE" for c in got.values())
    finally:
        server.stop()


@pytest.mark.postgres
def test_postgres_with_a_separate_worker_process(tmp_path: Path, moto_url: str,
                                                 pg_databases: pg.PgDatabases) -> None:
    data_dir = tmp_path / "data"
    database_url = pg_databases.new()
    server = ServerProcess(data_dir, args=["--no-worker"])
    env = clean_env(data_dir, CATALOG_INGEST_DATABASE_URL=database_url,
                    CATALOG_INGEST_PUBLIC_URL=server.url)
    server.env = env
    svc = open_runtime(Settings(data_dir=data_dir, database_url=database_url))
    tenant = make_tenant(svc, "Queued", ["q-store-1"])
    svc.close()
    _, queue_url = new_queue(moto_url)
    subscribe(env, tenant, queue_url, moto_url)
    server.start()
    worker = subprocess.Popen([sys.executable, "-m", "catalog_ingest", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ids = [upload(server, tenant, n) for n in range(3)]
        got = wait_for_completions(ids, sqs_queue_url=queue_url, timeout=40,
                                   verifier=service_verifier(server.url),
                                   sqs_client_kwargs={"endpoint_url": moto_url,
                                                      "region_name": "us-east-1", **FAKE_KEYS})
        assert set(got) == set(ids)
        deliveries = admin_json(env, "deliveries", tenant.retailer_id)["deliveries"]
        assert sorted(d["ingestion_id"] for d in deliveries if d["outcome"] == "DELIVERED") == (
            sorted(ids))
    finally:
        worker.terminate()
        worker.wait(20)
        server.stop()
        pg_databases.drop(database_url)
