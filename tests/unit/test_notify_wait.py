"""Waiting on notifications: a local listener that confirms itself, SQS long polling (moto)."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws
from tests.support.server import free_port

from catalog_ingest.client.notify_wait import service_verifier, wait_for_completions
from catalog_ingest.client.sns import Completion, SnsVerifier
from catalog_ingest.notify import sns
from catalog_ingest.notify.keys import SigningKey

SERVICE = "https://ingest.example.com"
CERT_URL = SERVICE + "/sns/signing-cert.pem"
ARN = "arn:aws:sns:us-east-1:000000000000:catalog-ingest-ret-1"
KEY = SigningKey.generate()
WHEN = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


class FakeService:
    """Serves the certificate and records SubscribeURL fetches (what the verifier GETs)."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return KEY.certificate_pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"


def notification(ingestion_id: str, key: SigningKey = KEY, status: str = "DONE") -> bytes:
    message = sns.completion_message(ingestion_id, status, f"{SERVICE}/r/{ingestion_id}",
                                     {"itemsReceived": 1})
    doc = sns.build_notification(message_id=str(uuid.uuid4()), topic_arn=ARN, subject=None,
                                 message=message, timestamp=WHEN, key=key,
                                 signing_cert_url=CERT_URL, unsubscribe_url=SERVICE + "/u")
    return sns.document_body(doc)


def confirmation() -> bytes:
    doc = sns.build_subscription_confirmation(
        message_id=str(uuid.uuid4()), topic_arn=ARN, token="tok",
        subscribe_url=SERVICE + "/sns/confirm?token=tok", timestamp=WHEN, key=KEY,
        signing_cert_url=CERT_URL)
    return sns.document_body(doc)


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def verifier(service: FakeService) -> SnsVerifier:
    return service_verifier(SERVICE, fetch=service.fetch)


def run_listener(verifier: SnsVerifier, ids: list[str], timeout: float
                 ) -> tuple[str, threading.Thread, dict[str, Any]]:
    ready: queue.Queue[str] = queue.Queue()
    out: dict[str, Any] = {"seen": []}

    def target() -> None:
        out["result"] = wait_for_completions(
            ids, listen=f"127.0.0.1:{free_port()}", verifier=verifier, timeout=timeout,
            on_completion=out["seen"].append, on_listening=ready.put)

    thread = threading.Thread(target=target)
    thread.start()
    return ready.get(timeout=10), thread, out


def post(url: str, body: bytes) -> int:
    return httpx.post(url, content=body, headers={"x-amz-sns-message-type": "x"}).status_code


def test_listener_confirms_and_returns_own_completions(service: FakeService,
                                                       verifier: SnsVerifier) -> None:
    mine = [str(uuid.uuid4()) for _ in range(2)]
    url, thread, out = run_listener(verifier, mine, timeout=30)
    assert post(url, confirmation()) == 200
    assert service.fetched[-1] == SERVICE + "/sns/confirm?token=tok"
    assert post(url, notification(str(uuid.uuid4()))) == 200  # another upload's: ignored
    assert post(url, notification(mine[0], key=SigningKey.generate())) == 400  # forged
    assert post(url, b"not json") == 400
    assert post(url, notification(mine[0], status="FATAL")) == 200
    assert post(url, notification(mine[0])) == 200  # a duplicate
    assert post(url, notification(mine[1], status="CANCELLED")) == 200
    thread.join(timeout=30)
    result: dict[str, Completion] = out["result"]
    assert set(result) == set(mine)
    assert result[mine[0]].processing_status == "FATAL"  # the first that arrived
    assert result[mine[1]].processing_status == "CANCELLED"
    assert [c.ingestion_id for c in out["seen"]] == mine  # once each, in arrival order
    with pytest.raises(httpx.ConnectError):  # the listener is gone afterwards
        httpx.post(url, content=b"{}")


def test_listener_returns_what_arrived_when_time_is_up(verifier: SnsVerifier) -> None:
    mine = [str(uuid.uuid4()) for _ in range(2)]
    url, thread, out = run_listener(verifier, mine, timeout=1.0)
    assert post(url, notification(mine[1])) == 200
    thread.join(timeout=30)
    assert list(out["result"]) == [mine[1]]


def test_exactly_one_source_is_needed(verifier: SnsVerifier) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        wait_for_completions(["x"], verifier=verifier, timeout=1)
    with pytest.raises(ValueError, match="exactly one"):
        wait_for_completions(["x"], verifier=verifier, timeout=1, listen="127.0.0.1:0",
                             sqs_queue_url="https://sqs.example.com/1/q")


@pytest.fixture
def sqs() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        # Visibility 0: what the waiter leaves is at once visible again, to it and to the test.
        queue_url = client.create_queue(QueueName="done",
                                        Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
        yield client, queue_url


def test_sqs_consumes_own_messages_and_leaves_the_rest(sqs: tuple[Any, str],
                                                       verifier: SnsVerifier) -> None:
    client, queue_url = sqs
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    bodies = [notification(other), notification(mine, key=SigningKey.generate()), b"garbage",
              notification(mine), notification(mine)]
    for body in bodies:
        client.send_message(QueueUrl=queue_url, MessageBody=body.decode())
    seen: list[Completion] = []
    result = wait_for_completions(
        [mine], sqs_queue_url=queue_url, verifier=verifier, timeout=10,
        on_completion=seen.append,
        sqs_client_kwargs={"region_name": "us-east-1", "aws_access_key_id": "testing",
                           "aws_secret_access_key": "testing"})
    assert list(result) == [mine] and [c.ingestion_id for c in seen] == [mine]
    left = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    # Ours (both copies) are deleted; the other upload's, the forged one and garbage stay.
    assert sorted(m["Body"] for m in left) == sorted(b.decode() for b in bodies[:3])
