"""End to end: `push --wait notify --sqs-queue-url` learns of completions from SNS messages.

A push that fell back to polling would leave the notifications in the queue; one that waited on
them consumes (and deletes) exactly its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.e2e.test_notify_http import clean_env
from tests.e2e.test_notify_sqs import moto_url, new_queue, subscribe
from tests.support.server import ServerProcess
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
