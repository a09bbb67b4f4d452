"""SQS records carrying the provider's SNS notifications (seed 003 steps 14-20).

Each record's body is an SNS ``Notification`` (SNS's default, non-raw delivery to SQS). It is
verified (signature by a certificate from an allowed URL, and the topic when one is
configured), its ``Message`` parsed, and the upload it names completed (``settle.complete``).
A verified ``SubscriptionConfirmation`` is confirmed (what seed 003 asks the retailer to do
by hand). A record that fails is reported back in ``batchItemFailures``, so only it returns to
the queue (and, after ``maxReceiveCount`` tries, to the dead-letter queue).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from catalog_ingest.client.aws.config import Aws, Config
from catalog_ingest.client.aws.settle import complete
from catalog_ingest.client.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    SnsSignatureError,
    SnsVerifier,
    completion,
)

log = logging.getLogger(__name__)


def handle_records(event: dict[str, Any], config: Config, aws: Aws,
                   cert_cache: MutableMapping[str, bytes]) -> dict[str, Any]:
    """The SQS batch response: the message ids of the records that failed."""
    verifier = SnsVerifier(allowed_cert_url_prefixes=config.cert_url_prefixes, cache=cert_cache)
    api = aws.api()
    failures = []
    try:
        for record in event.get("Records", []):
            message_id = record.get("messageId", "")
            try:
                outcome = handle_record(record, config, aws, verifier, api)
                log.info("SQS message %s: %s", message_id, outcome)
            except Exception:
                log.exception("SQS message %s failed; it will come back", message_id)
                failures.append({"itemIdentifier": message_id})
    finally:
        api.close()
    return {"batchItemFailures": failures}


def handle_record(record: dict[str, Any], config: Config, aws: Aws, verifier: SnsVerifier,
                  api: Any) -> str:
    message = verifier.verify(record["body"])
    if config.sns_topic_arn and message.topic_arn != config.sns_topic_arn:
        raise SnsSignatureError(f"a message of topic {message.topic_arn}, not of "
                                f"{config.sns_topic_arn}")
    if message.type == SUBSCRIPTION_CONFIRMATION:
        verifier.confirm_subscription(record["body"])
        return f"confirmed the subscription to {message.topic_arn}"
    if message.type != NOTIFICATION:
        return f"ignored an SNS {message.type}"
    done = completion(message)
    outcome = complete(aws, config, done.ingestion_id, done.processing_status,
                       done.report_download_link or None, api)
    return f"{done.ingestion_id} {done.processing_status}: {outcome}"
