"""End to end: `push --wait notify` learns of completions from SNS messages.

With `--sqs-queue-url`: a push that fell back to polling would leave the notifications in the
queue; one that waited on them consumes (and deletes) exactly its own. With `--listen`: the
listener is up and has confirmed the new subscription before the first upload is sent, and
receives every upload's notification.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import notifications as repo
from catalog_ingest.storage import uploads
from tests.e2e.test_notify_http import admin_json, clean_env
from tests.e2e.test_notify_sqs import moto_url, new_queue, subscribe
from tests.support.server import ServerProcess, free_port
from tests.support.tenants import make_tenant

__all__ = ["moto_url"]  # the module-scoped moto_server fixture, shared with test_notify_sqs

CSV = """item_sku,external_product_id,item_name,store_id,standard_price
SKU-1,4006381333931,Pen,n-store-1,1.99
SKU-2,036000291452,Paper,n-store-1,4.50
SKU-3,012345678905,Ink,n-store-1,12
"""


def test_push_waits_on_sqs_notifications(tmp_path: Path, moto_url: str) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)
    svc = open_runtime(Settings(data_dir=data_dir))
    tenant = make_tenant(svc, "Notified", ["n-store-1"])
    svc.close()
    sqs, queue_url = new_queue(moto_url)
    subscribe(env, tenant, queue_url, moto_url)
    server = ServerProcess(data_dir)
    server.env = env
    server.start()
    source = tmp_path / "catalog.csv"
    source.write_text(CSV)
    push_env = {**env, "AWS_ACCESS_KEY_ID": tenant.access_key_id,
                "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key, "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_SQS": moto_url}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "catalog_ingest", "push", str(source), "--endpoint",
             server.url, "--wait", "notify", "--sqs-queue-url", queue_url,
             "--notify-timeout", "60", "--tracking-db", str(tmp_path / "track.db"),
             "--results-dir", str(tmp_path / "results"), "--no-progress", "--json"],
            env=push_env, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert "3" in json.dumps(summary)
        left = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        assert left == [], "the push polled instead of consuming its notifications"
        assert list((tmp_path / "results").glob("*.json"))
    finally:
        server.stop()


def test_push_listens_and_confirms_before_the_first_upload(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)  # confirmations retried every 0.05-0.3 s
    svc = open_runtime(Settings(data_dir=data_dir))
    tenant = make_tenant(svc, "Listening", ["n-store-1"])
    server = ServerProcess(data_dir)
    server.env = env
    server.start()
    port = free_port()
    sub = admin_json(env, "subscribe", tenant.retailer_id, "--url", f"http://127.0.0.1:{port}/")
    assert sub["status"] == "PENDING_CONFIRMATION"  # nobody listens there yet
    source = tmp_path / "catalog.csv"
    source.write_text(CSV)
    push_env = {**env, "AWS_ACCESS_KEY_ID": tenant.access_key_id,
                "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key, "AWS_REGION": "us-east-1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "catalog_ingest", "push", str(source), "--endpoint",
             server.url, "--wait", "notify", "--listen", f"127.0.0.1:{port}",
             "--notify-timeout", "60", "--notify-confirm-wait", "60", "--chunk-size", "1",
             "--tracking-db", str(tmp_path / "track.db"), "--results-dir",
             str(tmp_path / "results"), "--no-progress", "--json"],
            env=push_env, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "DONE"
        with svc.db.read() as conn:
            confirmed = repo.get_subscription(conn, sub["subscription_id"])
            sent = uploads.list_uploads(conn, tenant.retailer_id, 100, None, None)
            attempts = repo.list_attempts(conn, tenant.retailer_id, 1000)
        assert confirmed is not None and confirmed.confirmed_at is not None
        assert len(sent) == 3
        assert confirmed.confirmed_at < min(u.submitted_at for u in sent)
        notified = {a.ingestion_id for a in attempts
                    if a.kind == "Notification" and a.outcome == repo.DELIVERED}
        assert notified == {u.ingestion_id for u in sent}
    finally:
        server.stop()
        svc.close()
