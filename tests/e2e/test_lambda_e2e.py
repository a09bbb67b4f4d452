"""End to end: the seed 003 Lambda integration on real parts.

moto in server mode plays S3, SQS, DynamoDB and STS; a real ``catalog-ingest serve`` plays the
Catalog API and publishes its completion notifications to an SQS queue of that moto. A file put
in the bucket makes moto emit the S3 event (its real shape, through an S3 → SQS notification);
``s3_handler`` is invoked with it; the service's notifications are received from the queue and
handed to ``sqs_handler`` in the SQS event shape; the reports must then be in the results
prefix and every record complete in DynamoDB.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from catalog_ingest.client import CatalogClient
from catalog_ingest.client.aws import poll_handler, s3_handler, sqs_handler
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.client.aws.s3_ingest import LeaseHeld, PushIncomplete
from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.e2e.test_notify_http import admin_json, clean_env, wait_for
from tests.support.moto import client, moto_server, unique
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, make_tenant

# One worker runs the module, so its moto server (and service) start once.
pytestmark = pytest.mark.xdist_group("lambda_e2e")
HEADER = ["SKU", "EAN", "Name", "Price"]
MAPPING = b"""
[columns]
item_sku = "SKU"
external_product_id = "EAN"
item_name = "Name"
standard_price = "Price"

[convert]
external_product_id = "digits"
"""


def ean(n: int) -> str:
    body = f"50{n:010d}"
    return body + str(gs1_check_digit(body))


def catalog_rows(n: int) -> list[dict[str, str]]:
    return [{"SKU": f"SKU-{i:05d}", "EAN": ean(i), "Name": f"Item {i}", "Price": "2.50"}
            for i in range(n)]


def catalog_jsonl(n: int) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in catalog_rows(n))


def catalog_json(n: int) -> bytes:
    return json.dumps(catalog_rows(n)).encode()


def catalog_csv(n: int, bad: tuple[int, ...] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(n):
        code = ean(i)
        if i in bad:
            code = code[:-1] + str((int(code[-1]) + 1) % 10)
        writer.writerow([f"SKU-{i:05d}", code, f"Item {i}", "2.50"])
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def start_service(data_dir: Path, **env: str) -> ServerProcess:
    server = ServerProcess(data_dir)
    server.env = clean_env(data_dir, **env)
    server.start(timeout=120)  # a loaded machine (CI runs two workers) starts it slowly
    return server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_service(tmp_path_factory.mktemp("svc") / "data")
    yield server
    server.stop()


@dataclass
class Stack:
    """One retailer's deployment of the template, on moto, against one service."""

    moto: str
    server: ServerProcess
    tenant: Tenant
    store: str
    incoming: str
    results: str
    table: str
    events_url: str
    done_url: str
    done_arn: str

    @property
    def tracking(self) -> DynamoTracking:
        return DynamoTracking(self.table, client("dynamodb", self.moto))

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        """Put the file; return the S3 event moto emitted for it (as Lambda receives it)."""
        client("s3", self.moto).put_object(Bucket=self.incoming, Key=key, Body=body)
        sqs = client("sqs", self.moto)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = sqs.receive_message(QueueUrl=self.events_url, WaitTimeSeconds=1,
                                         MaxNumberOfMessages=10)
            for message in answer.get("Messages", []):
                sqs.delete_message(QueueUrl=self.events_url,
                                   ReceiptHandle=message["ReceiptHandle"])
                event: dict[str, Any] = json.loads(message["Body"])
                if "Records" in event:
                    return event
        raise AssertionError("moto sent no S3 event")

    def notifications(self, ingestion_ids: set[str], timeout: float = 90
                      ) -> list[dict[str, Any]]:
        """The queue's messages about these uploads (deleted: as Lambda does on success)."""
        sqs = client("sqs", self.moto)
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while set(found) != ingestion_ids:
            assert time.monotonic() < deadline, f"notified: {sorted(found)}"
            answer = sqs.receive_message(QueueUrl=self.done_url, WaitTimeSeconds=1,
                                         MaxNumberOfMessages=10)
            for message in answer.get("Messages", []):
                sqs.delete_message(QueueUrl=self.done_url, ReceiptHandle=message["ReceiptHandle"])
                ingestion = json.loads(json.loads(message["Body"])["Message"])["ingestionId"]
                if ingestion in ingestion_ids:
                    found[ingestion] = message
        return list(found.values())

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": self.done_arn, "awsRegion": "us-east-1"} for m in messages]}

    def object(self, key: str) -> bytes:
        body: bytes = client("s3", self.moto).get_object(Bucket=self.results, Key=key)[
            "Body"].read()
        return body

    def result_keys(self) -> list[str]:
        answer = client("s3", self.moto).list_objects_v2(Bucket=self.results)
        return sorted(o["Key"] for o in answer.get("Contents", []))

    def uploads(self) -> list[str]:
        with CatalogClient(self.server.url, access_key=self.tenant.access_key_id,
                           secret_key=self.tenant.secret_access_key) as api:
            return [u.ingestion_id for u in api.iter_uploads(page_size=100)]

    def complete(self, push_id: str, timeout: float = 120) -> None:
        """Hand every notification of the push's uploads to sqs_handler."""
        ids = {c.ingestion_id for c in self.tracking.chunks(push_id) if c.ingestion_id}
        messages = self.notifications(ids, timeout)
        assert sqs_handler(self.sqs_event(messages), None) == {"batchItemFailures": []}


def new_stack(moto: str, server: ServerProcess, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path, **env: str) -> Stack:
    svc = open_runtime(Settings(data_dir=server.data_dir))
    store = unique("store")
    tenant = make_tenant(svc, unique("Retailer"), [store])
    svc.close()
    s3, sqs = client("s3", moto), client("sqs", moto)
    incoming, results = unique("incoming"), unique("results")
    s3.create_bucket(Bucket=incoming)
    s3.create_bucket(Bucket=results)
    s3.put_bucket_versioning(Bucket=results, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=results, Key="config/mapping.toml", Body=MAPPING)
    mapping = tmp_path / "mapping.toml"
    mapping.write_bytes(MAPPING)
    events_url = sqs.create_queue(QueueName=unique("s3-events"))["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=incoming, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": events_arn, "Events": ["s3:ObjectCreated:*"]}]})
    done_url = sqs.create_queue(QueueName=unique("done"))["QueueUrl"]
    done_arn = sqs.get_queue_attributes(QueueUrl=done_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sub = admin_json(server.env, "subscribe", tenant.retailer_id, "--sqs-queue-url", done_url,
                     "--sqs-endpoint-url", moto, "--sqs-region", "us-east-1",
                     "--sqs-access-key-id", "testing", "--sqs-secret-access-key", "testing")
    assert sub["status"] == "CONFIRMED"
    table = unique("tracking")
    DynamoTracking(table, client("dynamodb", moto)).create_table()
    for name in [k for k in os.environ if k.startswith("CATALOG_INGEST_")
                 and not k.startswith("CATALOG_INGEST_TEST_")]:
        monkeypatch.delenv(name)
    settings = {
        "AWS_ENDPOINT_URL": moto, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        # The function's own credentials sign the API calls here: the sandbox service knows
        # the tenant's key, not credentials moto's STS makes up (see test_aws_config).
        "AWS_ACCESS_KEY_ID": tenant.access_key_id,
        "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key,
        "CATALOG_INGEST_ENDPOINT": server.url, "CATALOG_INGEST_TRACKING_TABLE": table,
        "CATALOG_INGEST_RESULTS_BUCKET": results, "CATALOG_INGEST_RESULTS_PREFIX": "results",
        "CATALOG_INGEST_STORE": store, "CATALOG_INGEST_WORK_DIR": str(tmp_path / "work"),
        "CATALOG_INGEST_POLL_AFTER": "0.001", "CATALOG_INGEST_MAPPING": str(mapping), **env}
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return Stack(moto, server, tenant, store, incoming, results, table, events_url, done_url,
                 done_arn)


@pytest.fixture
def stack(moto_url: str, service: ServerProcess, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Stack:
    return new_stack(moto_url, service, monkeypatch, tmp_path)


def assert_complete(stack: Stack, push_id: str, items: int) -> dict[str, Any]:
    """Every record of the push complete in DynamoDB, every report in the results prefix."""
    tracking = stack.tracking
    push = tracking.push(push_id)
    assert push is not None and push.status == "DONE"
    chunks = tracking.chunks(push_id)
    assert chunks and all(c.status == "DONE" and c.completed_at for c in chunks)
    assert sum(c.item_count for c in chunks) == items
    base = f"results/{push.options['s3_source'].split('/', 3)[3]}/{push_id}/"
    for chunk in chunks:
        assert chunk.report_path == f"s3://{stack.results}/{base}" + (
            f"{chunk.seq:05d}-{stack.store}-{chunk.ingestion_id}.json")
        report = json.loads(stack.object(chunk.report_path.split("/", 3)[3]))
        assert (report["ingestionId"], report["processingStatus"]) == (chunk.ingestion_id, "DONE")
        accepted = [a for a in tracking.attempts(push_id, chunk.seq) if a["outcome"] == "ACCEPTED"]
        assert accepted and accepted[-1]["http_status"] == 201
    summary: dict[str, Any] = json.loads(stack.object(base + "summary.json"))
    assert summary["status"] == "DONE" and summary["reports"]["itemsReceived"] == items
    return summary


def test_a_file_with_faulty_rows_is_pushed_reported_and_recorded(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_INGEST_MAPPING", f"s3://{stack.results}/config/mapping.toml")
    event = stack.put("exports/daily catalog.csv", catalog_csv(40, bad=(3, 17, 29)))
    answer = s3_handler(event, None)
    (pushed,) = answer["pushes"]
    assert (pushed["status"], pushed["invalidRows"], pushed["uploads"]) == ("SUBMITTED", 3, 1)
    base = f"results/exports/daily catalog.csv/{pushed['pushId']}/"
    invalid = list(csv.DictReader(io.StringIO(stack.object(base + "invalid-rows.csv").decode())))
    assert [(r["line"], r["code"]) for r in invalid] == [
        ("5", "INVALID_CHECK_DIGIT"), ("19", "INVALID_CHECK_DIGIT"), ("31", "INVALID_CHECK_DIGIT")]
    stack.complete(pushed["pushId"])
    summary = assert_complete(stack, pushed["pushId"], 37)
    assert summary["reports"]["itemsCreated"] == 37 and summary["rowsInvalid"] == 3


def test_an_excel_workbook_is_read_mapped_and_pushed(stack: Stack, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for i in range(25):
        sheet.append([f"SKU-{i:05d}", int(ean(i)), f"Item {i}", 2.5])
    sheet.append(["SKU-BAD", "123", "Broken", 1.0])
    path = tmp_path / "catalog.xlsx"
    workbook.save(path)
    (pushed,) = s3_handler(stack.put("sheets/catalog.xlsx", path.read_bytes()), None)["pushes"]
    assert (pushed["status"], pushed["invalidRows"], pushed["uploads"]) == ("SUBMITTED", 1, 1)
    stack.complete(pushed["pushId"])
    summary = assert_complete(stack, pushed["pushId"], 25)
    assert summary["reports"]["itemsCreated"] == 25


def test_a_file_over_ten_thousand_items_goes_in_two_uploads(stack: Stack) -> None:
    event = stack.put("big.jsonl", catalog_jsonl(10_050))
    (pushed,) = s3_handler(event, None)["pushes"]
    assert pushed["uploads"] == 2
    chunks = stack.tracking.chunks(pushed["pushId"])
    assert [c.item_count for c in chunks] == [10_000, 50]
    stack.complete(pushed["pushId"], timeout=240)
    assert_complete(stack, pushed["pushId"], 10_050)


def test_redelivered_events_are_applied_once(stack: Stack) -> None:
    event = stack.put("again.json", catalog_json(12))
    first = s3_handler(event, None)["pushes"][0]
    again = s3_handler(event, None)["pushes"][0]
    assert again == {"pushId": first["pushId"], "source": first["source"],
                     "status": "SUBMITTED", "replayed": True}
    assert len(stack.uploads()) == 1  # nothing uploaded twice
    (chunk,) = stack.tracking.chunks(first["pushId"])
    assert chunk.ingestion_id is not None
    messages = stack.notifications({chunk.ingestion_id})
    event_sqs = stack.sqs_event(messages)
    assert sqs_handler(event_sqs, None) == {"batchItemFailures": []}
    assert sqs_handler(event_sqs, None) == {"batchItemFailures": []}  # SQS redelivered it
    report_key = (stack.tracking.chunks(first["pushId"])[0].report_path or "").split("/", 3)[3]
    versions = client("s3", stack.moto).list_object_versions(Bucket=stack.results,
                                                             Prefix=report_key)["Versions"]
    assert len(versions) == 1  # the report was written once
    assert_complete(stack, first["pushId"], 12)
    assert s3_handler(event, None)["pushes"][0]["status"] == "DONE"


def test_a_forged_notification_is_a_batch_item_failure(stack: Stack) -> None:
    event = stack.put("forged.csv", catalog_csv(3))
    pushed = s3_handler(event, None)["pushes"][0]
    (chunk,) = stack.tracking.chunks(pushed["pushId"])
    assert chunk.ingestion_id is not None
    (good,) = stack.notifications({chunk.ingestion_id})
    doc = json.loads(good["Body"])
    doc["Message"] = doc["Message"].replace('"DONE"', '"FATAL"')
    forged = {**good, "MessageId": "forged-1", "Body": json.dumps(doc)}
    answer = sqs_handler(stack.sqs_event([forged, good]), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "forged-1"}]}
    assert_complete(stack, pushed["pushId"], 3)


def test_the_poller_completes_uploads_no_notification_reached(stack: Stack) -> None:
    event = stack.put("unnotified.csv", catalog_csv(4))
    pushed = s3_handler(event, None)["pushes"][0]

    def polled() -> bool:
        poll_handler({}, None)
        push = stack.tracking.push(pushed["pushId"])
        return push is not None and push.status == "DONE"

    wait_for(polled, "the poller to complete the upload", timeout=60)
    assert_complete(stack, pushed["pushId"], 4)


@pytest.mark.parametrize("rerun", ["redelivered event", "scheduled poller"])
def test_a_handler_killed_half_way_finishes_when_run_again(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rerun: str) -> None:
    monkeypatch.setenv("CATALOG_INGEST_CHUNK_SIZE", "5")
    monkeypatch.setenv("CATALOG_INGEST_REQUESTS_PER_SECOND", "1")  # 8 uploads: 7 s at least
    monkeypatch.setenv("CATALOG_INGEST_PUSH_LEASE_SECONDS", "3")
    event = stack.put("killed.csv", catalog_csv(40))
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    script = ("import json, sys; from catalog_ingest.client.aws import s3_handler; "
              "s3_handler(json.load(open(sys.argv[1])), None)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(event_file)], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tracking = stack.tracking
    try:
        def two_accepted() -> bool:
            pushes = tracking.pushes(1)
            return bool(pushes) and sum(
                1 for c in tracking.chunks(pushes[0].push_id) if c.ingestion_id) >= 2

        wait_for(two_accepted, "two uploads accepted", timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    push_id = tracking.pushes(1)[0].push_id
    killed = tracking.chunks(push_id)
    assert len([c for c in killed if c.ingestion_id]) < 8  # it was killed half way

    def finished() -> bool:  # once the killed invocation's lease ran out (Lambda: its deadline)
        if rerun == "scheduled poller":
            poll_handler({}, None)
        else:
            try:
                s3_handler(event, None)
            except LeaseHeld:
                return False
        push = tracking.push(push_id)
        return push is not None and push.status in ("SUBMITTED", "DONE")

    wait_for(finished, f"the {rerun} to finish the push", timeout=60)
    chunks = tracking.chunks(push_id)
    assert len(chunks) == 8 and all(c.ingestion_id for c in chunks)
    assert sorted(stack.uploads()) == sorted(c.ingestion_id for c in chunks)  # none twice
    stack.complete(push_id)
    assert_complete(stack, push_id, 40)


def test_a_throttled_api_is_waited_out_and_every_attempt_recorded(
        moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # One request per two seconds: the second upload, sent at once, is throttled however slow
    # the machine is.
    server = start_service(tmp_path / "throttled", CATALOG_INGEST_RATE_LIMIT="1/2 seconds")
    try:
        stack = new_stack(moto_url, server, monkeypatch, tmp_path,
                          CATALOG_INGEST_REQUESTS_PER_SECOND="50",
                          CATALOG_INGEST_CHUNK_SIZE="4")
        event = stack.put("throttled.csv", catalog_csv(16))
        (pushed,) = s3_handler(event, None)["pushes"]
        assert (pushed["status"], pushed["uploads"]) == ("SUBMITTED", 4)
        attempts = stack.tracking.attempts(pushed["pushId"])
        throttled = [a for a in attempts if a["http_status"] == 429]
        assert throttled and all(a["outcome"] == "Throttled" for a in throttled)
        assert sorted(a["seq"] for a in attempts if a["outcome"] == "ACCEPTED") == [1, 2, 3, 4]
        stack.complete(pushed["pushId"])
        assert_complete(stack, pushed["pushId"], 16)
    finally:
        server.stop()


def test_an_upload_the_api_refuses_fails_the_invocation_and_is_recorded(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_INGEST_STORE", "not-this-retailers-store")
    event = stack.put("elsewhere.csv", catalog_csv(3))
    with pytest.raises(PushIncomplete):
        s3_handler(event, None)  # Lambda retries the event (a resume: only what failed)
    (push,) = stack.tracking.pushes(1)
    assert push.status == "INCOMPLETE"
    (chunk,) = stack.tracking.chunks(push.push_id)
    assert chunk.status == "FAILED" and chunk.error and chunk.ingestion_id is None
    (attempt,) = stack.tracking.attempts(push.push_id)
    assert attempt["http_status"] == 400
    base = f"results/elsewhere.csv/{push.push_id}/"
    assert json.loads(stack.object(base + "summary.json"))["status"] == "INCOMPLETE"
    assert stack.uploads() == []


def test_the_lambda_sends_the_same_idempotency_keys_as_push(stack: Stack, tmp_path: Path) -> None:
    body = catalog_csv(9)
    source = tmp_path / "same.csv"
    source.write_bytes(body)
    env = {**os.environ, "CATALOG_INGEST_TRACKING_DB": str(tmp_path / "push.db")}
    pushed = subprocess.run(
        [sys.executable, "-m", "catalog_ingest", "push", str(source), "--mapping",
         os.environ["CATALOG_INGEST_MAPPING"], "--store", stack.store, "--no-wait", "--json",
         "--results-dir", str(tmp_path / "push-results")],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert pushed.returncode == 0, pushed.stderr
    (by_push,) = stack.uploads()
    (lambda_push,) = s3_handler(stack.put("same.csv", body), None)["pushes"]
    (chunk,) = stack.tracking.chunks(lambda_push["pushId"])
    assert chunk.ingestion_id == by_push  # the service answered with push's upload
    assert stack.uploads() == [by_push]


def test_a_push_whose_mapping_changed_before_its_rerun_fails_once_and_for_all(
        stack: Stack) -> None:
    event = stack.put("remapped.csv", catalog_csv(3))
    (first,) = s3_handler(event, None)["pushes"]
    stack.tracking.update_push(first["pushId"], status="INTERRUPTED")  # as if killed
    mapping = Path(os.environ["CATALOG_INGEST_MAPPING"])
    mapping.write_bytes(MAPPING + b"\n[constants]\nbrand_name = \"Other\"\n")
    (again,) = s3_handler(event, None)["pushes"]
    assert again["status"] == "FAILED"
    push = stack.tracking.push(first["pushId"])
    assert push is not None and "changed" in (push.summary or {})["error"]
    assert s3_handler(event, None)["pushes"][0]["replayed"] is True  # not tried again
    assert len(stack.uploads()) == 1


def test_the_results_link_of_a_report_is_the_one_notified(stack: Stack) -> None:
    event = stack.put("linked.csv", catalog_csv(2))
    pushed = s3_handler(event, None)["pushes"][0]
    stack.complete(pushed["pushId"])
    item = client("dynamodb", stack.moto).get_item(
        TableName=stack.table, Key={"pk": {"S": f"PUSH#{pushed['pushId']}"},
                                    "sk": {"S": "CHUNK#00000001"}})["Item"]
    link = item["report_link"]["S"]  # seed step 20: the pre-signed URL is recorded
    assert httpx.get(link, timeout=10).status_code == 200
