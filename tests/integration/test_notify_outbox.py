"""The notification outbox: written with the upload's end, delivered with retries, on record."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from catalog_ingest.cli.main import app as cli_app
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.reports import payload_key
from catalog_ingest.engine.worker import Worker, drain
from catalog_ingest.notify import documents, outbox, subscriptions
from catalog_ingest.notify.delivery import Deliverer, backoff_delay, deliver_due
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.storage import notifications as repo
from catalog_ingest.storage import tables
from tests.support.sns_receiver import Receiver, sns_signature_valid
from tests.support.tenants import Tenant, item

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/catalog-done"


def accept(svc: Runtime, tenant: Tenant, *skus: str) -> str:
    items = [item(sku, "012345678905" if n == 0 else "4006381333931", tenant.stores[0])
             for n, sku in enumerate(skus)]
    body = json.dumps({"catalogItems": items}).encode()
    return intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD, body=body,
                         item_count=len(items), store_ids=[tenant.stores[0]],
                         idempotency_key=None)


def sqs_sub(svc: Runtime, tenant: Tenant, queue: str = QUEUE) -> repo.Subscription:
    with svc.db.write() as conn:
        return subscriptions.subscribe_sqs(conn, svc.settings.secret_key, tenant.retailer_id,
                                           queue, access_key_id="AKIDEXAMPLE",
                                           secret_access_key="secret/key")


def http_sub(svc: Runtime, tenant: Tenant, url: str, confirm: bool) -> repo.Subscription:
    with svc.db.write() as conn:
        sub = subscriptions.subscribe_http(conn, tenant.retailer_id, url)
        if confirm:
            assert sub.confirm_token is not None
            confirmed = subscriptions.confirm(conn, sub.confirm_token)
            assert confirmed is not None
            sub = confirmed
    if confirm:  # its SubscriptionConfirmation is dropped: confirmed meanwhile
        assert deliver_due(svc) == 1
    return sub


def notifications(svc: Runtime, tenant: Tenant) -> list[repo.OutboxRow]:
    with svc.db.read() as conn:
        return [r for r in repo.outbox_rows(conn, tenant.retailer_id) if r.kind == "Notification"]


def test_done_upload_records_one_message_per_confirmed_subscription(
        svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    first, second = sqs_sub(svc, tenant), sqs_sub(svc, tenant, QUEUE + "-2")
    http_sub(svc, tenant, "http://127.0.0.1:9/unconfirmed", confirm=False)
    sqs_sub(svc, other_tenant)
    ingestion_id = accept(svc, tenant, "A-1", "A-2")
    assert drain(svc) == ["DONE"]
    rows = notifications(svc, tenant)
    assert sorted(r.subscription_id for r in rows) == sorted(
        [first.subscription_id, second.subscription_id])
    assert len({r.message_id for r in rows}) == 1  # one publish, one MessageId (as SNS)
    upload = intake.get_upload(svc, tenant.retailer_id, ingestion_id)
    for row in rows:
        assert (row.ingestion_id, row.status, row.attempts) == (ingestion_id, "PENDING", 0)
        assert row.payload["processingStatus"] == "DONE"
        assert row.payload["summary"] == upload.summary
        assert row.payload["timestamp"] == upload.completed_at
    assert notifications(svc, other_tenant) == []


def test_rolled_back_end_leaves_no_message(svc: Runtime, tenant: Tenant,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sqs_sub(svc, tenant)
    ingestion_id = accept(svc, tenant, "A-1")
    real_record = outbox.record

    def record_then_fail(*args: Any) -> int:
        real_record(*args)
        raise RuntimeError("crash after recording, before the commit")

    monkeypatch.setattr(outbox, "record", record_then_fail)
    worker = Worker(svc)
    assert worker.step() == (True, None)  # the attempt failed and was rolled back
    assert notifications(svc, tenant) == []
    assert intake.get_upload(svc, tenant.retailer_id, ingestion_id).status != "DONE"
    monkeypatch.setattr(outbox, "record", real_record)
    assert worker.step() == (True, "DONE")
    assert [r.ingestion_id for r in notifications(svc, tenant)] == [ingestion_id]


def test_unconfirmed_subscription_gets_nothing(svc: Runtime, tenant: Tenant) -> None:
    http_sub(svc, tenant, "http://127.0.0.1:9/hook", confirm=False)
    accept(svc, tenant, "A-1")
    drain(svc)
    assert notifications(svc, tenant) == []


def test_cancelled_and_fatal_uploads_are_notified(svc: Runtime, tenant: Tenant) -> None:
    sqs_sub(svc, tenant)
    cancelled = accept(svc, tenant, "A-1")
    intake.cancel(svc, tenant.retailer_id, cancelled)
    fatal = accept(svc, tenant, "A-2")
    svc.blobs.delete(payload_key(fatal))
    assert drain(svc) == ["FATAL"]
    by_id = {r.ingestion_id: r.payload for r in notifications(svc, tenant)}
    assert by_id[cancelled]["processingStatus"] == "CANCELLED"
    assert by_id[cancelled]["summary"] == {}
    assert by_id[fatal]["processingStatus"] == "FATAL"
    assert by_id[fatal]["summary"]["itemsAccepted"] == 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_delivery_retries_with_backoff_then_gives_up(svc: Runtime, tenant: Tenant,
                                                     receiver: Receiver) -> None:
    settings = svc.settings.replace(notify_backoff_base=2.0, notify_backoff_max=8.0,
                                    notify_retry_seconds=30)
    svc = Runtime(settings, svc.db, svc.blobs)
    sub = http_sub(svc, tenant, receiver.url, confirm=True)
    receiver.status = lambda doc: 500
    assert receiver.received == []
    accept(svc, tenant, "A-1")
    drain(svc)
    [row] = notifications(svc, tenant)
    clock = Clock(row.created_at)
    deliverer = Deliverer(svc, clock=clock, rng=lambda: 1.0)  # jitter at its top: full delay
    delays = []
    while True:
        assert deliverer.run_once() == 1
        with svc.db.read() as conn:
            state = conn.execute(select(tables.outbox).where(tables.outbox.c.id == row.id)).one()
        if state.status != "PENDING":
            break
        delays.append(state.next_attempt_at - clock.now)
        clock.now = state.next_attempt_at
    deliverer.close()
    assert state.status == "GAVE_UP"
    assert delays == [2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped, the last one at the deadline
    assert clock.now == row.created_at + 30
    docs = receiver.docs(answered=500)
    assert len(docs) == len(delays) + 1 and len({d["MessageId"] for d in docs}) == 1
    with svc.db.read() as conn:
        attempts = repo.list_attempts(conn, tenant.retailer_id, 100)
    assert [a.outcome for a in attempts] == ["GAVE_UP", *["FAILED"] * 5, "DROPPED"]
    assert all(a.detail.startswith("HTTP 500") for a in attempts[:-1])
    assert {a.subscription_id for a in attempts} == {sub.subscription_id}


def test_backoff_jitter_stays_within_half_and_full_delay() -> None:
    assert backoff_delay(1, 1.0, 600.0, lambda: 0.0) == 0.5
    assert backoff_delay(3, 1.0, 600.0, lambda: 1.0) == 4.0
    assert backoff_delay(40, 1.0, 600.0, lambda: 1.0) == 600.0


def test_delivered_document_is_signed_and_carries_the_message(
        svc: Runtime, tenant: Tenant, receiver: Receiver) -> None:
    sub = http_sub(svc, tenant, receiver.url, confirm=True)
    ingestion_id = accept(svc, tenant, "A-1")
    drain(svc)
    assert deliver_due(svc) == 1
    [received] = [r for r in receiver.received if r.doc["Type"] == "Notification"]
    doc = received.doc
    cert = documents.signing_key(svc.db, svc.settings.secret_key).certificate_pem
    assert sns_signature_valid(doc, cert)
    assert received.headers["x-amz-sns-message-type"] == "Notification"
    assert received.headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert received.headers["x-amz-sns-topic-arn"] == doc["TopicArn"]
    assert received.headers["x-amz-sns-subscription-arn"].endswith(":" + sub.subscription_id)
    message = json.loads(doc["Message"])
    assert list(message) == ["ingestionId", "processingStatus", "reportDownloadLink", "summary"]
    assert (message["ingestionId"], message["processingStatus"]) == (ingestion_id, "DONE")
    assert message["reportDownloadLink"].startswith(
        f"http://127.0.0.1:8080/v1/reports/{ingestion_id}.json?expires=")
    assert notifications(svc, tenant)[0].status == "DELIVERED"
    assert deliver_due(svc) == 0  # delivered once, not again


def test_unsubscribed_endpoint_gets_nothing_more(svc: Runtime, tenant: Tenant,
                                                 receiver: Receiver) -> None:
    sub = http_sub(svc, tenant, receiver.url, confirm=True)
    accept(svc, tenant, "A-1")
    drain(svc)
    with svc.db.write() as conn:
        subscriptions.unsubscribe(conn, sub.subscription_id)
    deliver_due(svc)
    assert receiver.docs() == []
    [unsubscribed] = receiver.docs("UnsubscribeConfirmation")
    assert notifications(svc, tenant)[0].status == "DROPPED"
    with svc.db.write() as conn:  # its SubscribeURL restores the subscription
        token = unsubscribed["Token"]
        restored = subscriptions.confirm(conn, token)
    assert restored is not None and restored.status == "CONFIRMED"


def cli(settings_env: dict[str, str], *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli_app, ["admin", *args, "--json"], env=settings_env)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_admin_commands(svc: Runtime, tenant: Tenant, receiver: Receiver) -> None:
    env = {"CATALOG_INGEST_DATA_DIR": str(svc.settings.data_dir),
           "CATALOG_INGEST_DATABASE_URL": svc.settings.database_url,
           "CATALOG_INGEST_SECRET_KEY": svc.settings.secret_key.hex()}
    made = cli(env, "subscribe", tenant.retailer_id, "--url", receiver.url)
    assert (made["status"], made["protocol"], made["endpoint"]) == (
        "PENDING_CONFIRMATION", "http", receiver.url)
    queue = cli(env, "subscribe", tenant.retailer_id, "--sqs-queue-url", QUEUE,
                "--sqs-region", "eu-west-1", "--sqs-access-key-id", "AKID",
                "--sqs-secret-access-key", "s3cr3t")
    assert queue["status"] == "CONFIRMED" and "s3cr3t" not in json.dumps(queue)
    with svc.db.read() as conn:
        stored = repo.get_subscription(conn, queue["subscription_id"])
    assert stored is not None and "s3cr3t" not in json.dumps(stored.sqs_options)
    assert subscriptions.sqs_client_options(svc.settings.secret_key, stored) == {
        "region_name": "eu-west-1", "aws_access_key_id": "AKID", "aws_secret_access_key": "s3cr3t"}
    deliver_due(svc)  # the SubscriptionConfirmation
    listed = cli(env, "subscriptions", tenant.retailer_id)["subscriptions"]
    assert {s["subscription_id"] for s in listed} == {made["subscription_id"],
                                                     queue["subscription_id"]}
    gone = cli(env, "unsubscribe", queue["subscription_id"])
    assert gone["status"] == "DELETED"
    [attempt] = cli(env, "deliveries", tenant.retailer_id)["deliveries"]
    assert (attempt["type"], attempt["outcome"], attempt["detail"]) == (
        "SubscriptionConfirmation", "DELIVERED", "HTTP 200")
    bad = CliRunner().invoke(cli_app, ["admin", "subscribe", tenant.retailer_id, "--url",
                                       "ftp://example.com/x"], env=env)
    assert bad.exit_code == 1 and "http:// or https://" in bad.output
    both = CliRunner().invoke(cli_app, ["admin", "subscribe", tenant.retailer_id], env=env)
    assert both.exit_code == 2


def test_every_process_signs_with_the_same_stored_key(svc: Runtime) -> None:
    other = open_runtime(svc.settings)
    try:
        mine = documents.signing_key(svc.db, svc.settings.secret_key)
        theirs = documents.signing_key(other.db, svc.settings.secret_key)
        assert mine is not theirs and mine.certificate_pem == theirs.certificate_pem
    finally:
        other.close()



def test_sns_routes(svc: Runtime, tenant: Tenant, client: TestClient) -> None:
    sub = http_sub(svc, tenant, "http://127.0.0.1:9/hook", confirm=False)
    again = http_sub(svc, tenant, "http://127.0.0.1:9/hook", confirm=False)
    assert again.subscription_id == sub.subscription_id  # as SNS: one per endpoint
    assert client.get("/sns/confirm", params={"token": "nope"}).status_code == 404
    assert client.get("/sns/confirm").status_code == 400
    for _ in range(2):  # fetching the SubscribeURL again is harmless
        answer = client.get("/sns/confirm", params={"token": sub.confirm_token or ""})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/xml")
        arn = ET.fromstring(answer.text).find(".//{*}SubscriptionArn")
        assert arn is not None and arn.text == documents.subscription_arn(
            svc.settings, tenant.retailer_id, sub.subscription_id)
    cert = client.get("/sns/signing-cert.pem")
    assert cert.status_code == 200
    assert cert.content == documents.signing_key(svc.db, svc.settings.secret_key).certificate_pem
    link = urlsplit(documents.unsubscribe_url(svc.settings, sub.subscription_id))
    other = documents.unsubscribe_url(svc.settings, str(uuid.uuid4()))
    assert client.get(f"{link.path}?subscription={sub.subscription_id}&signature="
                      + parse_qs(urlsplit(other).query)["signature"][0]).status_code == 403
    assert client.get(f"{link.path}?{link.query}").status_code == 200
    with svc.db.read() as conn:
        found = repo.get_subscription(conn, sub.subscription_id)
    assert found is not None and found.status == "DELETED"
