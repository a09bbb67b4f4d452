"""The Lambda integration's pieces on their own: configuration, S3 event records, the assumed
role's credentials, and the conditional writes that make redelivered events apply once
(moto in process stands in for AWS here; the end-to-end test uses moto's server)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto import mock_aws

from catalog_ingest.client import CatalogClient
from catalog_ingest.client.aws import sqs_handler
from catalog_ingest.client.aws.config import Aws, Config, lease_until
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.client.aws.s3_ingest import S3Object, results_base
from catalog_ingest.client.push.tracking import ChunkRecord, PushRecord
from catalog_ingest.errors import ConfigurationError
from catalog_ingest.notify import sns
from catalog_ingest.notify.keys import SigningKey

BASE = {"CATALOG_INGEST_ENDPOINT": "https://api.example/prod/",
        "CATALOG_INGEST_TRACKING_TABLE": "tracking", "CATALOG_INGEST_RESULTS_BUCKET": "results"}


def record(key: str = "in/my+file%281%29.csv", **obj: str) -> dict[str, Any]:
    return {"eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "inbox"}, "object": {"key": key, "size": 3, **obj}}}


def test_config_needs_the_three_settings_and_names_the_missing_ones() -> None:
    with pytest.raises(ConfigurationError, match="CATALOG_INGEST_TRACKING_TABLE, "
                                                 "CATALOG_INGEST_RESULTS_BUCKET"):
        Config.from_env({"CATALOG_INGEST_ENDPOINT": "https://x"})


def test_config_defaults_and_normalises() -> None:
    config = Config.from_env({**BASE, "CATALOG_INGEST_RESULTS_PREFIX": "out",
                              "CATALOG_INGEST_MAPPING": "", "CATALOG_API_ROLE_ARN": ""})
    assert config.endpoint == "https://api.example/prod"
    assert config.results_prefix == "out/"
    assert (config.mapping, config.role_arn, config.store) == (None, None, None)
    assert (config.rate, config.chunk_size, config.poll_after) == (10.0, 10_000, 900.0)
    assert config.cert_url_prefixes[0] == "https://api.example/prod/sns/"
    assert config.cert_url_prefixes[1].startswith("https://sns.")


def test_the_api_is_signed_for_its_own_region() -> None:
    gateway = {**BASE, "CATALOG_INGEST_ENDPOINT":
               "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"}
    assert Config.from_env(gateway).api_region == "eu-west-1"
    assert Config.from_env({**gateway, "CATALOG_INGEST_API_REGION": "us-west-2"}
                           ).api_region == "us-west-2"
    assert Config.from_env(BASE).api_region == Config.from_env(BASE).region


@pytest.mark.parametrize(("name", "value"), [
    ("CATALOG_INGEST_REQUESTS_PER_SECOND", "fast"), ("CATALOG_INGEST_REQUESTS_PER_SECOND", "0"),
    ("CATALOG_INGEST_CHUNK_SIZE", "10001")])
def test_config_refuses_bad_numbers(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Config.from_env({**BASE, name: value})


def test_lease_runs_to_the_invocations_own_deadline() -> None:
    class Context:
        aws_request_id = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    config = Config.from_env(BASE)
    assert abs(lease_until(Context(), config) - (time.time() + 65)) < 2
    assert abs(lease_until(None, config) - (time.time() + 900)) < 2


def test_s3_records_name_one_push_per_write_of_an_object() -> None:
    first = S3Object.from_record(record(sequencer="0A1", eTag="e1"))
    assert (first.bucket, first.key) == ("inbox", "in/my file(1).csv")
    assert S3Object.from_record(record(sequencer="0A1", eTag="e1")).push_id == first.push_id
    assert S3Object.from_record(record(sequencer="0A2", eTag="e1")).push_id != first.push_id
    assert S3Object.from_record(record(versionId="v2", sequencer="0A1")).push_id != first.push_id
    config = Config.from_env({**BASE, "CATALOG_INGEST_RESULTS_PREFIX": "results/"})
    assert results_base(config, first, first.push_id) == (
        f"results/in/my file(1).csv/{first.push_id}/")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDSOURCE", "AWS_SECRET_ACCESS_KEY": "s",
                        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_the_api_role_is_assumed_and_its_credentials_sign_the_calls(aws_env: None) -> None:
    role = "arn:aws:iam::123456789012:role/CatalogApiInvoker"
    aws = Aws(Config.from_env({**BASE, "CATALOG_API_ROLE_ARN": role}))
    credentials = aws.api_credentials()
    frozen = credentials.get_frozen_credentials()
    source = os.environ["AWS_ACCESS_KEY_ID"]  # the function's own (moto sets a fake one)
    assert frozen.access_key != source and frozen.token
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"processingStatus": "INQUEUE"})

    with CatalogClient(aws.config.endpoint, credentials=credentials,
                       transport=httpx.MockTransport(answer)) as api:
        assert api.get_status("abc").processing_status == "INQUEUE"
    (request,) = seen
    assert f"Credential={frozen.access_key}/" in request.headers["authorization"]
    assert "/us-east-1/execute-api/aws4_request" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == frozen.token
    own = Aws(Config.from_env(BASE)).api_credentials().get_frozen_credentials()
    assert own.access_key == source  # without a role: the function's own credentials


@pytest.fixture
def table(aws_env: None) -> DynamoTracking:
    import boto3

    tracking = DynamoTracking("tracking", boto3.client("dynamodb"))
    tracking.create_table()
    return tracking


def a_push(push_id: str = "p", status: str = "INTERRUPTED") -> PushRecord:
    return PushRecord(push_id, "https://api", "src", [], {}, status, time.time())


def test_a_push_is_claimed_once_and_held_by_one_invocation(table: DynamoTracking) -> None:
    assert table.claim_push(a_push()) is True
    assert table.claim_push(a_push()) is False
    now = time.time()
    assert table.acquire_lease("p", "inv-1", now + 60) is True
    assert table.acquire_lease("p", "inv-2", now + 60) is False
    assert table.acquire_lease("p", "inv-1", now + 90) is True  # its own retry
    table.release_lease("p", "inv-2")  # not the holder: no effect
    assert table.acquire_lease("p", "inv-2", now + 60) is False
    table.release_lease("p", "inv-1")
    assert table.acquire_lease("p", "inv-2", now + 60) is True
    assert table.acquire_lease("p", "inv-2", now - 1) is True  # a lease that ran out...
    assert table.acquire_lease("p", "inv-3", now + 60) is True  # ...is taken over
    table.update_push("p", status="DONE")  # the push item is another item than its lease
    push = table.push("p")
    assert push is not None and push.status == "DONE"
    assert table.acquire_lease("not-yet-created", "inv-1", now + 60) is True


def test_a_chunk_is_settled_once_and_the_push_finalised_once(table: DynamoTracking) -> None:
    table.claim_push(a_push(status="SUBMITTED"))
    table.add_chunk(ChunkRecord("p", 1, "UPLOAD", "s1", "f", "k", 3, "a:2", "a:4"))
    table.update_chunk("p", 1, status="ACCEPTED", ingestion_id="ing")
    assert [c.seq for c in table.open_uploads()] == [1]
    assert table.settle_chunk("p", 1, status="DONE", completed_at=1.0) is True
    assert table.settle_chunk("p", 1, status="FATAL", completed_at=2.0) is False
    chunk = table.chunk("p", 1)
    assert chunk is not None and (chunk.status, chunk.completed_at) == ("DONE", 1.0)
    assert table.open_uploads() == []
    assert table.finalize_push("p", {"n": 1}) is True
    assert table.finalize_push("p", {"n": 2}) is False
    push = table.push("p")
    assert push is not None and (push.status, push.summary) == ("DONE", {"n": 1})
    table.claim_push(a_push("running", status="RUNNING"))
    assert table.finalize_push("running", {}) is False


def test_records_that_are_not_verified_notifications_come_back(
        table: DynamoTracking, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {**BASE, "CATALOG_INGEST_WORK_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    event = {"Records": [
        {"messageId": "not-json", "body": "hello"},
        {"messageId": "unsigned", "body": '{"Type": "Notification", "MessageId": "m", '
         '"TopicArn": "arn:t", "Message": "{}", "Timestamp": "t", "SignatureVersion": "2", '
         '"Signature": "AAAA", "SigningCertURL": "https://evil.example/cert.pem"}'}]}
    assert sqs_handler(event, None) == {"batchItemFailures": [
        {"itemIdentifier": "not-json"}, {"itemIdentifier": "unsigned"}]}


class Provider:
    """A loopback stand-in for the provider's side: the signing certificate, the subscription's
    SubscribeURL, and one report behind a link."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.fetched: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetched.append(self.path)
                body = (provider.key.certificate_pem if self.path.endswith(".pem")
                        else json.dumps({"ingestionId": "elsewhere", "processingStatus": "DONE",
                                         "itemResults": []}).encode())
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def signed(self, kind: str, topic: str, message: str = "") -> str:
        when = dt.datetime.now(dt.UTC)
        cert = self.url + "/sns/signing-cert.pem"
        if kind == "confirmation":
            doc = sns.build_subscription_confirmation(
                message_id="c-1", topic_arn=topic, token="tok", timestamp=when, key=self.key,
                subscribe_url=self.url + "/sns/confirm?Token=tok", signing_cert_url=cert)
        else:
            doc = sns.build_notification(
                message_id="n-1", topic_arn=topic, subject=None, message=message, timestamp=when,
                key=self.key, signing_cert_url=cert, unsubscribe_url=self.url + "/sns/unsub")
        return json.dumps(doc)


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider()
    yield running
    running.server.shutdown()


def test_a_subscription_confirmation_in_the_queue_is_confirmed_and_others_are_refused(
        table: DynamoTracking, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    topic = "arn:aws:sns:us-east-1:111122223333:catalog"
    for name, value in {**BASE, "CATALOG_INGEST_ENDPOINT": provider.url,
                        "CATALOG_INGEST_SNS_TOPIC_ARN": topic}.items():
        monkeypatch.setenv(name, value)
    event = {"Records": [
        {"messageId": "confirm", "body": provider.signed("confirmation", topic)},
        {"messageId": "other-topic", "body": provider.signed("confirmation", topic + "-x")}]}
    assert sqs_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "other-topic"}]}
    assert "/sns/confirm?Token=tok" in provider.fetched


def test_a_report_of_an_upload_made_elsewhere_is_kept_as_untracked(
        table: DynamoTracking, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="results")
    for name, value in {**BASE, "CATALOG_INGEST_ENDPOINT": provider.url,
                        "CATALOG_INGEST_RESULTS_PREFIX": "out/"}.items():
        monkeypatch.setenv(name, value)
    message = json.dumps({"ingestionId": "elsewhere", "processingStatus": "DONE",
                          "reportDownloadLink": provider.url + "/reports/elsewhere",
                          "summary": {}})
    event = {"Records": [{"messageId": "m", "body": provider.signed("notification", "arn:t",
                                                                       message)}]}
    assert sqs_handler(event, None) == {"batchItemFailures": []}
    stored = boto3.client("s3").get_object(Bucket="results", Key="out/untracked/elsewhere.json")
    assert json.loads(stored["Body"].read())["ingestionId"] == "elsewhere"
