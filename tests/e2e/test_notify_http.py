"""End to end: a real server notifies a real HTTP endpoint; outages and a kill -9 lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import notifications as repo
from tests.support.server import ServerProcess
from tests.support.sns_receiver import Receiver
from tests.support.tenants import Tenant, item, make_tenant
from tests.support.upload_rows import upload_row

FAST_RETRIES = {"CATALOG_INGEST_NOTIFY_BACKOFF_BASE": "0.05",
                "CATALOG_INGEST_NOTIFY_BACKOFF_MAX": "0.3",
                "CATALOG_INGEST_NOTIFY_TIMEOUT": "2"}


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CATALOG_INGEST_") or k.startswith("CATALOG_INGEST_TEST_")}
    return {**env, "CATALOG_INGEST_DATA_DIR": str(data_dir), **FAST_RETRIES, **extra}


def admin_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "catalog_ingest", "admin", *args, "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling a condition with a deadline


class Deployment:
    """A server process, its data dir, a tenant, and an in-process view of its database."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.env = clean_env(self.data_dir)
        self.svc = open_runtime(Settings(data_dir=self.data_dir))
        self.tenant: Tenant = make_tenant(self.svc, "Notified", ["n-store-1"])
        self.server = ServerProcess(self.data_dir)
        self.server.env = self.env  # not the test process's CATALOG_INGEST_* settings

    def upload(self, sku: str) -> str:
        body = json.dumps({"catalogItems": [item(sku, "012345678905", "n-store-1")]})
        resp = httpx.post(self.server.url + "/v1/catalog/upload", content=body.encode(),
                          auth=self.tenant.auth, headers={"content-type": "application/json"})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ingestionId"])

    def subscription(self, subscription_id: str) -> repo.Subscription:
        with self.svc.db.read() as conn:
            found = repo.get_subscription(conn, subscription_id)
        assert found is not None
        return found

    def status(self, ingestion_id: str) -> str:
        return upload_row(self.svc, ingestion_id).status

    def failed_attempts(self) -> int:
        with self.svc.db.read() as conn:
            attempts = repo.list_attempts(conn, self.tenant.retailer_id, 1000)
        return sum(1 for a in attempts if a.outcome == "FAILED")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    dep = Deployment(tmp_path)
    yield dep
    dep.server.stop()
    dep.svc.close()


def delivered_ids(receiver: Receiver) -> dict[str, set[str]]:
    """ingestion id → the MessageIds of every copy received (answered or not)."""
    out: dict[str, set[str]] = {}
    for doc in receiver.docs(answered=None):
        out.setdefault(json.loads(doc["Message"])["ingestionId"], set()).add(doc["MessageId"])
    return out


def acknowledged(receiver: Receiver) -> set[str]:
    return {json.loads(d["Message"])["ingestionId"] for d in receiver.docs()}


def test_confirmation_outage_and_recovery(deployment: Deployment) -> None:
    dep = deployment
    dep.server.start()
    receiver = Receiver(service_url=dep.server.url).start()
    try:
        confirming = False
        failures_left = 3
        lock = threading.Lock()

        def answer(doc: dict[str, Any]) -> int:
            nonlocal failures_left
            if doc["Type"] == "SubscriptionConfirmation":
                return 200 if confirming else 503
            with lock:  # deliveries arrive concurrently
                if doc["Type"] == "Notification" and failures_left > 0:
                    failures_left -= 1
                    return 500
            return 200

        receiver.status = answer
        sub = admin_json(dep.env, "subscribe", dep.tenant.retailer_id, "--url", receiver.url)
        assert sub["status"] == "PENDING_CONFIRMATION"
        receiver.wait_until(lambda: len(receiver.docs("SubscriptionConfirmation", 503)) >= 1)
        early = dep.upload("EARLY")  # ends while the endpoint is unconfirmed: never sent
        wait_for(lambda: dep.status(early) == "DONE", "the early upload")
        confirming = True
        wait_for(lambda: dep.subscription(sub["subscription_id"]).status == "CONFIRMED",
                 "the confirmation")
        ids = [dep.upload(f"SKU-{n}") for n in range(3)]
        wait_for(lambda: acknowledged(receiver) >= set(ids), "every notification", 45)
        copies = delivered_ids(receiver)
        assert early not in copies
        assert all(len(copies[i]) == 1 for i in ids)  # duplicates share the MessageId
        assert len(receiver.docs(answered=500)) == 3
        assert receiver.bad_signatures == []
        check_notification(receiver, ids[0], sub["subscription_id"])
        attempts = admin_json(dep.env, "deliveries", dep.tenant.retailer_id, "--limit", "100")
        outcomes = [a["outcome"] for a in attempts["deliveries"] if a["type"] == "Notification"]
        assert sorted(outcomes) == ["DELIVERED"] * 3 + ["FAILED"] * 3
        unsubscribe_through_link(dep, receiver, sub["subscription_id"])
    finally:
        receiver.stop()


def check_notification(receiver: Receiver, ingestion_id: str, subscription_id: str) -> None:
    [received] = [r for r in receiver.received if r.answered == 200
                  and r.doc["Type"] == "Notification"
                  and json.loads(r.doc["Message"])["ingestionId"] == ingestion_id]
    doc, headers = received.doc, received.headers
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert headers["x-amz-sns-topic-arn"] == doc["TopicArn"]
    assert headers["x-amz-sns-subscription-arn"] == f"{doc['TopicArn']}:{subscription_id}"
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert doc["SignatureVersion"] == "2"
    message = json.loads(doc["Message"])
    assert message["processingStatus"] == "DONE"
    assert message["summary"]["itemsReceived"] == 1
    report = httpx.get(message["reportDownloadLink"], timeout=10)
    assert report.status_code == 200 and report.json()["ingestionId"] == ingestion_id


def unsubscribe_through_link(dep: Deployment, receiver: Receiver, subscription_id: str) -> None:
    doc = receiver.docs()[0]
    link = urlsplit(doc["UnsubscribeURL"])
    forged = httpx.get(doc["UnsubscribeURL"].replace("signature=", "signature=0"), timeout=10)
    assert forged.status_code == 403
    answer = httpx.get(doc["UnsubscribeURL"], timeout=10)
    assert answer.status_code == 200 and "<UnsubscribeResponse" in answer.text, link
    assert dep.subscription(subscription_id).status == "DELETED"
    receiver.wait_until(lambda: len(receiver.docs("UnsubscribeConfirmation")) == 1)
    late = dep.upload("LATE")
    wait_for(lambda: dep.status(late) == "DONE", "the late upload")
    with dep.svc.db.read() as conn:  # recorded with the upload's end, so absent for good
        assert [r for r in repo.outbox_rows(conn, dep.tenant.retailer_id)
                if r.ingestion_id == late] == []


def test_kill_9_with_deliveries_pending(deployment: Deployment) -> None:
    dep = deployment
    dep.server.start()
    receiver = Receiver(service_url=dep.server.url).start()
    sub = admin_json(dep.env, "subscribe", dep.tenant.retailer_id, "--url", receiver.url)
    wait_for(lambda: dep.subscription(sub["subscription_id"]).status == "CONFIRMED",
             "the confirmation")
    port = receiver.port
    receiver.stop()  # the endpoint is down: connections are refused
    ids = [dep.upload(f"SKU-{n}") for n in range(3)]
    wait_for(lambda: dep.failed_attempts() >= 3, "failed attempts")
    dep.server.kill()
    receiver = Receiver(service_url=dep.server.url, port=port).start()
    try:
        dep.server.start()
        wait_for(lambda: acknowledged(receiver) >= set(ids), "every notification", 45)
        copies = delivered_ids(receiver)
        assert all(len(copies[i]) == 1 for i in ids)
        assert receiver.bad_signatures == []
        with dep.svc.db.read() as conn:
            rows = [r for r in repo.outbox_rows(conn, dep.tenant.retailer_id)
                    if r.kind == "Notification"]
        assert sorted(r.ingestion_id or "" for r in rows) == sorted(ids)
        assert {r.message_id for r in rows} == {next(iter(copies[i])) for i in ids}
    finally:
        receiver.stop()

