"""SNS-format notifications: signed by notify, verified by the client and by this test."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_ingest.client import sns as client
from catalog_ingest.errors import CatalogIngestError, TransientError
from catalog_ingest.notify import sns
from catalog_ingest.notify.keys import SigningKey

CERT_URL = "https://ingest.example.com/sns/signing-cert.pem"
UNSUB_URL = "https://ingest.example.com/sns/unsubscribe?SubscriptionArn=arn:aws:sns:x"
SUB_URL = "https://ingest.example.com/sns/confirm?Token=tok-123"
ARN = "arn:aws:sns:us-east-1:000000000000:catalog-ingest-acme"
WHEN = dt.datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=dt.UTC)


# --- an independent verifier, written from the SNS documentation only --------------------
# "Verifying the signatures of Amazon SNS messages": the string to sign is the listed
# name/value pairs, each name and each value followed by a newline, in byte-sort order of
# the names; a Notification signs Message, MessageId, Subject (if present), Timestamp,
# TopicArn, Type; a (Un)SubscriptionConfirmation signs Message, MessageId, SubscribeURL,
# Timestamp, Token, TopicArn, Type. SignatureVersion 1 is SHA1withRSA, 2 SHA256withRSA.


def doc_string_to_sign(doc: Mapping[str, Any]) -> bytes:
    if doc["Type"] == "Notification":
        names = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
        if doc.get("Subject") is not None:
            names.append("Subject")
    elif doc["Type"] in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"]
        names.append("Type")
    else:
        raise KeyError(doc["Type"])
    text = ""
    for name in sorted(names):
        text += name + "\n" + doc[name] + "\n"
    return text.encode("utf-8")


def independently_verified(doc: Mapping[str, Any], cert_pem: bytes) -> bool:
    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(doc.get("SignatureVersion", ""))
    if algorithm is None:
        return False
    try:
        payload = doc_string_to_sign(doc)
        signature = base64.b64decode(doc["Signature"], validate=True)
        public_key.verify(signature, payload, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True


def independently_signed(doc: dict[str, str], key_pem: bytes, version: str) -> dict[str, str]:
    private_key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    raw = private_key.sign(doc_string_to_sign(doc), padding.PKCS1v15(), algorithm)
    return {**doc, "SignatureVersion": version, "Signature": base64.b64encode(raw).decode()}


# --- fixtures -------------------------------------------------------------------------------


class Fetcher:
    """A stand-in for the HTTP GET of the certificate (and of SubscribeURL)."""

    def __init__(self, pages: Mapping[str, bytes]) -> None:
        self.pages = dict(pages)
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.pages:
            raise OSError(f"404 {url}")
        return self.pages[url]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture()
def fetcher(key: SigningKey) -> Fetcher:
    return Fetcher({CERT_URL: key.certificate_pem, SUB_URL: b"<ConfirmSubscriptionResponse/>"})


@pytest.fixture()
def verifier(fetcher: Fetcher) -> client.SnsVerifier:
    return client.SnsVerifier(
        allowed_cert_url_prefixes=["https://ingest.example.com/sns/"], fetch=fetcher
    )


def notification(
    key: SigningKey, *, subject: str | None = "Upload DONE", message: str = '{"ingestionId":"x"}'
) -> dict[str, str]:
    return sns.build_notification(
        message_id="6d1bb4b0-8a8d-4d43-9a1c-3f1f4e3f0001",
        topic_arn=ARN,
        subject=subject,
        message=message,
        timestamp=WHEN,
        key=key,
        signing_cert_url=CERT_URL,
        unsubscribe_url=UNSUB_URL,
    )


def confirmation(key: SigningKey) -> dict[str, str]:
    return sns.build_subscription_confirmation(
        message_id="6d1bb4b0-8a8d-4d43-9a1c-3f1f4e3f0002",
        topic_arn=ARN,
        token="tok-123",
        subscribe_url=SUB_URL,
        timestamp=WHEN,
        key=key,
        signing_cert_url=CERT_URL,
    )


# --- the envelope ---------------------------------------------------------------------------


def test_notification_document_fields_and_order(key: SigningKey) -> None:
    doc = notification(key)
    assert list(doc) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    assert doc["Type"] == "Notification"
    assert doc["Timestamp"] == "2026-11-22T10:00:00.123Z"
    assert doc["SignatureVersion"] == "2"
    assert doc["SigningCertURL"] == CERT_URL and doc["UnsubscribeURL"] == UNSUB_URL
    assert "Subject" not in notification(key, subject=None)


def test_subscription_confirmation_document(key: SigningKey) -> None:
    doc = confirmation(key)
    assert list(doc) == [
        "Type",
        "MessageId",
        "Token",
        "TopicArn",
        "Message",
        "SubscribeURL",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    ]
    assert doc["Message"] == (
        f"You have chosen to subscribe to the topic {ARN}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    assert independently_verified(doc, key.certificate_pem)


def test_unsubscribe_confirmation_verifies(key: SigningKey, verifier: client.SnsVerifier) -> None:
    doc = sns.build_unsubscribe_confirmation(
        message_id="m-3",
        topic_arn=ARN,
        subscription_arn=ARN + ":sub-1",
        token="tok-9",
        subscribe_url=SUB_URL,
        timestamp=WHEN,
        key=key,
        signing_cert_url=CERT_URL,
    )
    assert doc["Type"] == "UnsubscribeConfirmation"
    assert independently_verified(doc, key.certificate_pem)
    assert verifier.verify(doc).token == "tok-9"


def test_string_to_sign_known_answer() -> None:
    doc = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": ARN,
        "Subject": "S",
        "Message": "hello",
        "Timestamp": "2026-11-22T10:00:00.000Z",
        "UnsubscribeURL": "ignored",
        "SignatureVersion": "2",
    }
    expected = (
        f"Message\nhello\nMessageId\nm-1\nSubject\nS\n"
        f"Timestamp\n2026-11-22T10:00:00.000Z\nTopicArn\n{ARN}\nType\nNotification\n"
    )
    assert sns.string_to_sign(doc) == expected
    assert client.string_to_sign(client.parse_message(doc)) == expected
    del doc["Subject"]
    assert "Subject" not in sns.string_to_sign(doc)
    with pytest.raises(ValueError):
        sns.string_to_sign({**doc, "Type": "Bogus"})
    with pytest.raises(ValueError):
        sns.string_to_sign({"Type": "SubscriptionConfirmation", "Message": "m"})


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02T03:04:05.000Z"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=dt.UTC), "2026-01-02T03:04:05.999Z"),
        (
            dt.datetime(2026, 1, 2, 1, 0, 0, 5000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-01T23:00:00.005Z",
        ),
    ],
)
def test_timestamp_format(when: dt.datetime, expected: str) -> None:
    assert sns.format_timestamp(when) == expected


def test_naive_timestamp_and_bad_subjects_refused(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        sns.format_timestamp(dt.datetime(2026, 1, 1))
    for subject in ("", "x" * 101, "two\nlines", "tab\there"):
        with pytest.raises(ValueError):
            notification(key, subject=subject)


def test_topic_arn() -> None:
    assert sns.topic_arn("eu-west-1", "acme_01") == (
        "arn:aws:sns:eu-west-1:000000000000:catalog-ingest-acme_01"
    )
    for region, retailer in (
        ("us-east-1", "a:b"),
        ("us-east-1", ""),
        ("US_EAST", "a"),
        ("us-east-1", "é"),
        ("us-east-1", "x" * 300),
    ):
        with pytest.raises(ValueError):
            sns.topic_arn(region, retailer)


def test_http_headers(key: SigningKey) -> None:
    doc = notification(key)
    assert sns.http_headers(doc, ARN + ":sub-1") == {
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": doc["MessageId"],
        "x-amz-sns-topic-arn": ARN,
        "x-amz-sns-subscription-arn": ARN + ":sub-1",
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    headers = sns.http_headers(confirmation(key), None)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert "x-amz-sns-subscription-arn" not in headers


def test_completion_message_compact_and_ordered() -> None:
    text = sns.completion_message("id-1", "DONE", "https://x/r?sig=1", {"itemsReceived": 3})
    assert text == (
        '{"ingestionId":"id-1","processingStatus":"DONE",'
        '"reportDownloadLink":"https://x/r?sig=1","summary":{"itemsReceived":3}}'
    )


# --- signed by notify, verified by the client and independently ----------------------------


@pytest.mark.parametrize("subject", ["Upload DONE", None])
def test_notify_signs_client_and_independent_verify(
    key: SigningKey, verifier: client.SnsVerifier, subject: str | None
) -> None:
    doc = notification(key, subject=subject)
    assert independently_verified(doc, key.certificate_pem)
    message = verifier.verify(doc)
    assert message.subject == subject and message.message == doc["Message"]


def test_client_verifies_independently_signed_documents(
    key: SigningKey, verifier: client.SnsVerifier
) -> None:
    base = {
        "Type": "Notification",
        "MessageId": "m-9",
        "TopicArn": ARN,
        "Message": "payload ✓",
        "Timestamp": "2026-11-22T10:00:00.000Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": UNSUB_URL,
    }
    for version in ("1", "2"):
        for doc in (base, {**base, "Subject": "Sub"}):
            verifier.verify(independently_signed(doc, key.private_key_pem(), version))
    v2 = independently_signed(base, key.private_key_pem(), "2")
    with pytest.raises(client.SnsSignatureError):  # a SHA-256 signature labelled version 1
        verifier.verify({**v2, "SignatureVersion": "1"})


def test_non_ascii_message_through_the_wire_format(
    key: SigningKey, verifier: client.SnsVerifier
) -> None:
    text = 'Ünïcödé ✓ 日本語 🎉 "quoted" \\ back\nslash\r\n\t€'
    doc = notification(key, subject="Größe ✓", message=text)
    body = sns.document_body(doc)
    assert "日本語".encode() in body  # raw UTF-8, as SNS sends it
    for wire in (body, body.decode("utf-8"), {"body": body.decode()}, {"Body": body.decode()}):
        message = verifier.verify(wire)
        assert message.message == text
    assert independently_verified(json.loads(body), key.certificate_pem)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", '{"ingestionId":"y"}'),
        ("MessageId", "6d1bb4b0-8a8d-4d43-9a1c-3f1f4e3f0009"),
        ("Timestamp", "2026-11-22T10:00:00.124Z"),
        ("TopicArn", "arn:aws:sns:us-east-1:000000000000:catalog-ingest-other"),
        ("Subject", "Upload FATAL"),
        ("Type", "notification"),
        ("SignatureVersion", "1"),
        ("SignatureVersion", "3"),
    ],
)
def test_tampering_breaks_verification(
    key: SigningKey, verifier: client.SnsVerifier, field: str, value: str
) -> None:
    doc = {**notification(key), field: value}
    assert not independently_verified(doc, key.certificate_pem)
    with pytest.raises(client.SnsSignatureError):
        verifier.verify(doc)


def test_adding_or_removing_subject_breaks_verification(
    key: SigningKey, verifier: client.SnsVerifier
) -> None:
    without = notification(key, subject=None)
    with_subject = notification(key)
    del with_subject["Subject"]
    for doc in ({**without, "Subject": "Added"}, with_subject):
        assert not independently_verified(doc, key.certificate_pem)
        with pytest.raises(client.SnsSignatureError):
            verifier.verify(doc)


def test_signature_tampering_and_type_confusion(
    key: SigningKey, verifier: client.SnsVerifier
) -> None:
    doc = notification(key)
    raw = bytearray(base64.b64decode(doc["Signature"]))
    raw[10] ^= 1
    forged = [
        {**doc, "Signature": base64.b64encode(bytes(raw)).decode()},
        {**doc, "Signature": "not base64!"},
        {**doc, "Type": "SubscriptionConfirmation", "Token": "t", "SubscribeURL": SUB_URL},
    ]
    for bad in forged:
        assert not independently_verified(bad, key.certificate_pem)
        with pytest.raises(client.SnsSignatureError):
            verifier.verify(bad)


def test_confirmation_tampering(key: SigningKey, verifier: client.SnsVerifier) -> None:
    for field, value in (("Token", "tok-124"), ("SubscribeURL", "https://evil.example/")):
        doc = {**confirmation(key), field: value}
        assert not independently_verified(doc, key.certificate_pem)
        with pytest.raises(client.SnsSignatureError):
            verifier.verify(doc)


def test_signature_from_another_key_fails(key: SigningKey, fetcher: Fetcher) -> None:
    other = SigningKey.generate()
    verifier = client.SnsVerifier(
        allowed_cert_url_prefixes=["https://ingest.example.com/"], fetch=fetcher
    )
    with pytest.raises(client.SnsSignatureError):
        verifier.verify(notification(other))
    assert not independently_verified(notification(other), key.certificate_pem)


text_without_surrogates = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
subjects = st.none() | st.text(
    st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=100
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=text_without_surrogates, subject=subjects, message_id=text_without_surrogates)
def test_any_text_round_trips_and_verifies(
    key: SigningKey, message: str, subject: str | None, message_id: str
) -> None:
    doc = sns.build_notification(
        message_id=message_id,
        topic_arn=ARN,
        subject=subject,
        message=message,
        timestamp=WHEN,
        key=key,
        signing_cert_url=CERT_URL,
        unsubscribe_url=UNSUB_URL,
    )
    verifier = client.SnsVerifier(
        allowed_cert_url_prefixes=[CERT_URL], fetch=Fetcher({CERT_URL: key.certificate_pem})
    )
    wire = sns.document_body(doc)
    assert verifier.verify(wire).message == message
    assert independently_verified(json.loads(wire), key.certificate_pem)
    assert not independently_verified({**doc, "Message": message + "."}, key.certificate_pem)


# --- the certificate URL and fetching -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/sns/signing-cert.pem",
        "http://ingest.example.com/sns/signing-cert.pem",
        "https://ingest.example.com/other/signing-cert.pem",
        "https://ingest.example.com/sns/../other/cert.pem",
        "https://ingest.example.com/sns/%2e%2e/other/cert.pem",
        "https://ingest.example.com/sns/x@evil.example/cert.pem",
        "https://ingest.example.com/sns\\@evil.example/cert.pem",
        "https://ingest.example.com/sns/cert.pem#x",
        "https://ingest.example.com/sns/ cert.pem",
        "file:///etc/passwd",
        "",
    ],
)
def test_cert_url_outside_prefixes_refused_without_fetching(
    key: SigningKey, fetcher: Fetcher, verifier: client.SnsVerifier, url: str
) -> None:
    doc = {**notification(key), "SigningCertURL": url}
    with pytest.raises(client.SnsSignatureError):
        verifier.verify(doc)
    assert fetcher.calls == []


def test_prefix_without_path_does_not_admit_lookalike_hosts(fetcher: Fetcher) -> None:
    verifier = client.SnsVerifier(
        allowed_cert_url_prefixes=["https://ingest.example.com"], fetch=fetcher
    )
    assert verifier.cert_url_allowed(CERT_URL)
    for url in (
        "https://ingest.example.com.evil.example/c.pem",
        "https://ingest.example.com@evil.example/c.pem",
        "https://ingest.example.com:8443/c.pem",
    ):
        assert not verifier.cert_url_allowed(url)


def test_verifier_configuration_errors() -> None:
    with pytest.raises(ValueError):
        client.SnsVerifier(allowed_cert_url_prefixes=[])
    with pytest.raises(TypeError):
        client.SnsVerifier(allowed_cert_url_prefixes="https://ingest.example.com/")
    for prefix in ("ingest.example.com/", "ftp://x/", "https://u@x/", "https://x/?q=1"):
        with pytest.raises(ValueError):
            client.SnsVerifier(allowed_cert_url_prefixes=[prefix])


def test_certificate_is_fetched_once_and_cached(
    key: SigningKey, fetcher: Fetcher, verifier: client.SnsVerifier
) -> None:
    verifier.verify(notification(key))
    verifier.verify(notification(key, subject=None))
    assert fetcher.calls == [CERT_URL]


def test_shared_cache_survives_a_new_verifier(key: SigningKey, fetcher: Fetcher) -> None:
    cache: dict[str, bytes] = {}
    first = client.SnsVerifier(allowed_cert_url_prefixes=[CERT_URL], fetch=fetcher, cache=cache)
    first.verify(notification(key))
    offline = Fetcher({})
    second = client.SnsVerifier(allowed_cert_url_prefixes=[CERT_URL], fetch=offline, cache=cache)
    second.verify(notification(key))
    assert offline.calls == [] and cache == {CERT_URL: key.certificate_pem}


def test_fetch_failure_is_transient_and_not_cached(key: SigningKey) -> None:
    fetcher = Fetcher({})
    verifier = client.SnsVerifier(allowed_cert_url_prefixes=[CERT_URL], fetch=fetcher)
    with pytest.raises(client.SnsFetchError) as caught:
        verifier.verify(notification(key))
    assert isinstance(caught.value, TransientError)
    fetcher.pages[CERT_URL] = key.certificate_pem
    verifier.verify(notification(key))
    assert fetcher.calls == [CERT_URL, CERT_URL]


def test_garbage_certificate_refused_and_not_cached(key: SigningKey) -> None:
    fetcher = Fetcher({CERT_URL: b"<html>not a certificate</html>"})
    cache: dict[str, bytes] = {}
    verifier = client.SnsVerifier(allowed_cert_url_prefixes=[CERT_URL], fetch=fetcher, cache=cache)
    with pytest.raises(client.SnsSignatureError):
        verifier.verify(notification(key))
    assert cache == {}


def test_confirm_subscription_fetches_subscribe_url_only_when_verified(
    key: SigningKey, fetcher: Fetcher, verifier: client.SnsVerifier
) -> None:
    with pytest.raises(client.SnsSignatureError):
        verifier.confirm_subscription({**confirmation(key), "Token": "forged"})
    assert SUB_URL not in fetcher.calls
    message = verifier.confirm_subscription(sns.document_body(confirmation(key)))
    assert message.type == "SubscriptionConfirmation" and fetcher.calls[-1] == SUB_URL
    with pytest.raises(client.SnsMessageError):
        verifier.confirm_subscription(notification(key))


# --- parsing on the client side -------------------------------------------------------------


def test_parse_message_tolerates_unknown_fields_and_null_subject(key: SigningKey) -> None:
    doc: dict[str, Any] = {
        **notification(key, subject=None),
        "Subject": None,
        "MessageAttributes": {"a": {"Type": "String", "Value": "1"}},
    }
    message = client.parse_message(json.dumps(doc))
    assert message.subject is None and message.unsubscribe_url == UNSUB_URL
    assert message.signing_cert_url == CERT_URL


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        "[]",
        {"Type": "Notification"},
        {"body": "{}"},
        {"Type": 3},
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "m",
            "TopicArn": ARN,
            "Message": "x",
            "Timestamp": "t",
        },
    ],
)
def test_parse_message_refuses_malformed(body: Any) -> None:
    with pytest.raises(client.SnsMessageError) as caught:
        client.parse_message(body)
    assert isinstance(caught.value, CatalogIngestError)


def test_completion_is_parsed_tolerating_extra_keys(key: SigningKey) -> None:
    text = sns.completion_message(
        "id-7", "DONE", "https://x/report?s=1", {"itemsReceived": 3, "itemsAccepted": 2}
    )
    extra = json.dumps({**json.loads(text), "futureKey": [1, 2]})
    for message in (text, extra):
        done = client.completion(notification(key, message=message))
        assert done == client.Completion(
            "id-7", "DONE", "https://x/report?s=1", {"itemsReceived": 3, "itemsAccepted": 2}
        )
    cancelled = sns.completion_message("id-8", "CANCELLED", "", {})
    assert client.completion(notification(key, message=cancelled)).report_download_link == ""


def test_completion_refuses_other_messages(key: SigningKey) -> None:
    for doc in (
        notification(key, message="plain text"),
        notification(key, message='{"ingestionId":"x"}'),
        confirmation(key),
    ):
        with pytest.raises(client.SnsMessageError):
            client.completion(doc)


def test_errors_are_catalog_ingest_errors() -> None:
    assert issubclass(client.SnsSignatureError, CatalogIngestError)
    assert issubclass(client.SnsMessageError, CatalogIngestError)
    assert issubclass(client.SnsFetchError, TransientError)


def test_client_module_does_not_import_server_code() -> None:
    source = Path(client.__file__).read_text()
    assert "catalog_ingest.notify" not in source
    code = "import sys, catalog_ingest.client.sns; print('catalog_ingest.notify' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_default_fetch_uses_httpx_without_redirects(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    seen: list[dict[str, Any]] = []

    def fake_get(url: str, **kwargs: Any) -> httpx.Response:
        seen.append({"url": url, **kwargs})
        status = 200 if url == CERT_URL else 302
        return httpx.Response(status, content=b"pem", request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    assert client.default_fetch(CERT_URL) == b"pem"
    assert seen[0]["follow_redirects"] is False and seen[0]["timeout"] > 0
    with pytest.raises(client.SnsFetchError):
        client.default_fetch("https://ingest.example.com/sns/moved.pem")
