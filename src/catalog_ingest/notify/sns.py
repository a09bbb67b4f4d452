"""SNS message documents: the canonical string to sign, signed envelopes, delivery headers.

Pure functions, no I/O. The formats are Amazon SNS's, so a subscriber's existing SNS code
(or :mod:`catalog_ingest.client.sns`) reads and verifies them unchanged:

* ``Notification``: ``Type``, ``MessageId``, ``TopicArn``, ``Subject`` (only when there is
  one), ``Message``, ``Timestamp``, ``SignatureVersion``, ``Signature``, ``SigningCertURL``,
  ``UnsubscribeURL``, in that order.
* ``SubscriptionConfirmation`` / ``UnsubscribeConfirmation``: ``Type``, ``MessageId``,
  ``Token``, ``TopicArn``, ``Message``, ``SubscribeURL``, ``Timestamp``,
  ``SignatureVersion``, ``Signature``, ``SigningCertURL``.
* ``Timestamp`` is ISO 8601 UTC with milliseconds and ``Z``: ``2026-11-22T10:00:00.123Z``.
* ``SignatureVersion`` is always ``"2"``: RSA PKCS#1 v1.5 with SHA-256 over the UTF-8 bytes
  of the string to sign, base64 (see :func:`string_to_sign`).

An HTTP(S) endpoint gets :func:`document_body` as a POST body with :func:`http_headers`; an
SQS queue gets the same :func:`document_body` as the message body (SNS's default,
non-raw delivery).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Final

from catalog_ingest.notify.keys import SigningKey

#: The AWS account id in our topic ARNs. We are not AWS and own no account, so the ARN uses
#: twelve zeros: well-formed (SDKs and ARN parsers accept it), and no real account has it,
#: so an ARN of ours is never mistaken for a real AWS topic.
ACCOUNT_ID: Final = "000000000000"
TOPIC_PREFIX: Final = "catalog-ingest-"
SIGNATURE_VERSION: Final = "2"
USER_AGENT: Final = "Amazon Simple Notification Service Agent"
CONTENT_TYPE: Final = "text/plain; charset=UTF-8"

NOTIFICATION: Final = "Notification"
SUBSCRIPTION_CONFIRMATION: Final = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION: Final = "UnsubscribeConfirmation"

_NOTIFICATION_KEYS: Final = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS: Final = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token")
#: The keys of the string to sign, in order, per ``Type`` (Subject only when present).
SIGNED_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    NOTIFICATION: _NOTIFICATION_KEYS,
    SUBSCRIPTION_CONFIRMATION: (*_CONFIRMATION_KEYS, "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: (*_CONFIRMATION_KEYS, "TopicArn", "Type"),
}
_OPTIONAL_SIGNED_KEYS: Final = frozenset({"Subject"})

_REGION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TOPIC_PART = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOPIC_NAME = 256
_MAX_SUBJECT = 100


def topic_arn(region: str, retailer_id: str) -> str:
    """The ARN of a retailer's notification topic, e.g.
    ``arn:aws:sns:us-east-1:000000000000:catalog-ingest-<retailer_id>``.

    SNS topic names allow only ASCII letters, digits, ``-`` and ``_`` (at most 256), so a
    retailer id with any other character is a ``ValueError`` rather than a silently
    altered (and possibly colliding) name.
    """
    if not _REGION.fullmatch(region):
        raise ValueError(f"not an AWS-style region name: {region!r}")
    name = TOPIC_PREFIX + retailer_id
    if not _TOPIC_PART.fullmatch(retailer_id) or len(name) > _MAX_TOPIC_NAME:
        raise ValueError(f"retailer id cannot be part of an SNS topic name: {retailer_id!r}")
    return f"arn:aws:sns:{region}:{ACCOUNT_ID}:{name}"


def string_to_sign(doc: Mapping[str, str]) -> str:
    """SNS's canonical string: ``"Key\\nValue\\n"`` for each signed key of ``doc["Type"]``.

    A missing required key, or an unknown ``Type``, is a ``ValueError``.
    """
    kind = doc.get("Type", "")
    keys = SIGNED_KEYS.get(kind)
    if keys is None:
        raise ValueError(f"no SNS signing rule for Type {kind!r}")
    parts: list[str] = []
    for key in keys:
        if key not in doc:
            if key in _OPTIONAL_SIGNED_KEYS:
                continue
            raise ValueError(f"SNS {kind} document lacks {key}")
        parts.append(f"{key}\n{doc[key]}\n")
    return "".join(parts)


def format_timestamp(timestamp: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``; a naive datetime is a ``ValueError``."""
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("the timestamp must be timezone-aware")
    utc = timestamp.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def build_notification(
    *,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    message: str,
    timestamp: dt.datetime,
    key: SigningKey,
    signing_cert_url: str,
    unsubscribe_url: str,
) -> dict[str, str]:
    """The signed ``Notification`` document; ``subject=None`` leaves ``Subject`` out.

    A subject follows SNS's rules: 1 to 100 characters, no control characters (line breaks
    included), else ``ValueError``.
    """
    doc = {"Type": NOTIFICATION, "MessageId": message_id, "TopicArn": topic_arn}
    if subject is not None:
        doc["Subject"] = _checked_subject(subject)
    doc["Message"] = message
    doc["Timestamp"] = format_timestamp(timestamp)
    return _signed(doc, key, signing_cert_url, {"UnsubscribeURL": unsubscribe_url})


def build_subscription_confirmation(
    *,
    message_id: str,
    topic_arn: str,
    token: str,
    subscribe_url: str,
    timestamp: dt.datetime,
    key: SigningKey,
    signing_cert_url: str,
) -> dict[str, str]:
    """The signed ``SubscriptionConfirmation`` document, with SNS's own ``Message`` text."""
    message = (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    return _confirmation(
        SUBSCRIPTION_CONFIRMATION,
        message_id,
        topic_arn,
        token,
        subscribe_url,
        message,
        timestamp,
        key,
        signing_cert_url,
    )


def build_unsubscribe_confirmation(
    *,
    message_id: str,
    topic_arn: str,
    subscription_arn: str,
    token: str,
    subscribe_url: str,
    timestamp: dt.datetime,
    key: SigningKey,
    signing_cert_url: str,
) -> dict[str, str]:
    """The signed ``UnsubscribeConfirmation`` sent to an endpoint that was unsubscribed;
    fetching ``subscribe_url`` subscribes it again (SNS's own ``Message`` text)."""
    message = (
        f"You have chosen to deactivate subscription {subscription_arn}.\n"
        "To cancel this operation and restore the subscription, visit the SubscribeURL "
        "included in this message."
    )
    return _confirmation(
        UNSUBSCRIBE_CONFIRMATION,
        message_id,
        topic_arn,
        token,
        subscribe_url,
        message,
        timestamp,
        key,
        signing_cert_url,
    )


def http_headers(doc: Mapping[str, str], subscription_arn: str | None) -> dict[str, str]:
    """The headers SNS sends with an HTTP(S) delivery of ``doc``.

    ``x-amz-sns-subscription-arn`` is sent when ``subscription_arn`` is given (SNS sends it
    with notifications; a ``SubscriptionConfirmation`` has no subscription ARN yet).
    """
    headers = {
        "x-amz-sns-message-type": doc["Type"],
        "x-amz-sns-message-id": doc["MessageId"],
        "x-amz-sns-topic-arn": doc["TopicArn"],
    }
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    headers["Content-Type"] = CONTENT_TYPE
    headers["User-Agent"] = USER_AGENT
    return headers


def document_body(doc: Mapping[str, str]) -> bytes:
    """The document as sent (HTTP body or SQS message body): JSON, UTF-8, SNS's layout."""
    return json.dumps(dict(doc), indent=2, separators=(",", " : "), ensure_ascii=False).encode(
        "utf-8"
    )


def completion_message(
    ingestion_id: str,
    processing_status: str,
    report_download_link: str,
    summary: Mapping[str, object],
) -> str:
    """The ``Message`` of a completion notification: compact JSON, keys in this order."""
    return json.dumps(
        {
            "ingestionId": str(ingestion_id),
            "processingStatus": str(processing_status),
            "reportDownloadLink": report_download_link,
            "summary": dict(summary),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _confirmation(
    kind: str,
    message_id: str,
    topic_arn: str,
    token: str,
    subscribe_url: str,
    message: str,
    timestamp: dt.datetime,
    key: SigningKey,
    signing_cert_url: str,
) -> dict[str, str]:
    doc = {
        "Type": kind,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": message,
        "SubscribeURL": subscribe_url,
        "Timestamp": format_timestamp(timestamp),
    }
    return _signed(doc, key, signing_cert_url, {})


def _signed(
    doc: dict[str, str], key: SigningKey, signing_cert_url: str, trailer: Mapping[str, str]
) -> dict[str, str]:
    signature = key.sign(string_to_sign(doc))
    doc["SignatureVersion"] = SIGNATURE_VERSION
    doc["Signature"] = signature
    doc["SigningCertURL"] = signing_cert_url
    doc.update(trailer)
    return doc


def _checked_subject(subject: str) -> str:
    if not subject or len(subject) > _MAX_SUBJECT:
        raise ValueError("an SNS subject has 1 to 100 characters")
    if any(ch < " " or ch == "\x7f" for ch in subject):
        raise ValueError("an SNS subject has no control characters or line breaks")
    return subject
