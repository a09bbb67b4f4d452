"""The signed SNS documents sent for outbox rows, the URLs they carry, and the shared signing key.

URLs in a document (``SigningCertURL``, ``SubscribeURL``, ``UnsubscribeURL``, the report link)
start with the service's public base: ``CATALOG_INGEST_PUBLIC_URL``, else the address
``serve`` listens on (``Settings.listen_url``), else ``http://127.0.0.1:8080``. A
notification has no incoming request to take a host from, so deployments reached under
another name, and separate ``catalog-ingest worker`` processes, need ``PUBLIC_URL`` set.

A document is built when each delivery attempt is made, from what was recorded with the
upload's end: ``MessageId``, ``Timestamp``, ``TopicArn`` and the message's status and
summary never change between attempts, while ``reportDownloadLink`` is signed afresh, valid
for the report link TTL from that attempt, so a message delivered after a long receiver
outage still carries a working link. Duplicates therefore share their ``MessageId`` but not
necessarily their ``Signature``.

The signing key lives in the database, sealed under the server secret (as API key secrets
are), so every process of a deployment signs with the key whose certificate ``serve``
publishes. Rotation: delete the ``signing_keys`` row and restart every process.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError

from catalog_ingest import crypto, links
from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.notify import sns
from catalog_ingest.notify.keys import SigningKey
from catalog_ingest.settings import Settings
from catalog_ingest.storage import notifications as repo
from catalog_ingest.storage.database import Database

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
CERT_PATH: Final = "/sns/signing-cert.pem"
CONFIRM_PATH: Final = "/sns/confirm"
UNSUBSCRIBE_PATH: Final = "/sns/unsubscribe"
KEY_NAME: Final = "sns"

_keys: weakref.WeakKeyDictionary[Database, SigningKey] = weakref.WeakKeyDictionary()
_keys_lock = threading.Lock()


def base_url(settings: Settings) -> str:
    return (settings.public_url or settings.listen_url or DEFAULT_BASE_URL).rstrip("/")


def cert_url(settings: Settings) -> str:
    return base_url(settings) + CERT_PATH


def subscribe_url(settings: Settings, token: str) -> str:
    return f"{base_url(settings)}{CONFIRM_PATH}?{urlencode({'token': token})}"


def unsubscribe_signature(secret: bytes, subscription_id: str) -> str:
    """The MAC that makes an UnsubscribeURL work: only the holder of the URL can use it."""
    return crypto.mac(secret, crypto.UNSUBSCRIBE, subscription_id)


def unsubscribe_signature_ok(secret: bytes, subscription_id: str, signature: str) -> bool:
    return crypto.mac_ok(secret, crypto.UNSUBSCRIBE, signature, subscription_id)


def unsubscribe_url(settings: Settings, subscription_id: str) -> str:
    query = urlencode({"subscription": subscription_id,
                       "signature": unsubscribe_signature(settings.secret_key, subscription_id)})
    return f"{base_url(settings)}{UNSUBSCRIBE_PATH}?{query}"


def topic_arn(settings: Settings, retailer_id: str) -> str:
    return sns.topic_arn(settings.region, retailer_id)


def subscription_arn(settings: Settings, retailer_id: str, subscription_id: str) -> str:
    return f"{topic_arn(settings, retailer_id)}:{subscription_id}"


def signing_key(db: Database, secret: bytes) -> SigningKey:
    """The deployment's notification signing key (created, once, by the first process)."""
    with _keys_lock:
        key = _keys.get(db)
        if key is None:
            key = _load_or_create_key(db, secret)
            _keys[db] = key
        return key


def _load_or_create_key(db: Database, secret: bytes) -> SigningKey:
    with db.read() as conn:
        found = repo.signing_key_row(conn, KEY_NAME)
    if found is None:
        fresh = SigningKey.generate()
        sealed = crypto.seal_text(secret, fresh.private_key_pem().decode("ascii"))
        try:
            with db.write() as conn:
                if repo.signing_key_row(conn, KEY_NAME) is None:
                    repo.insert_signing_key(conn, KEY_NAME, sealed,
                                            fresh.certificate_pem.decode("ascii"), time.time())
        except IntegrityError:
            pass  # another process stored its key first: use that one
        with db.read() as conn:
            found = repo.signing_key_row(conn, KEY_NAME)
        assert found is not None
    key_sealed, certificate = found
    return SigningKey.from_pem(crypto.unseal_text(secret, key_sealed).encode("ascii"),
                               certificate.encode("ascii"))


def _when(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def build_document(settings: Settings, key: SigningKey, row: repo.OutboxRow,
                   now: float) -> dict[str, str]:
    """The signed document for one delivery attempt of ``row`` made at ``now``."""
    if row.kind == sns.NOTIFICATION:
        return _notification(settings, key, row, now)
    if row.kind in (sns.SUBSCRIPTION_CONFIRMATION, sns.UNSUBSCRIBE_CONFIRMATION):
        return _confirmation(settings, key, row)
    raise ValueError(f"unknown outbox message kind {row.kind!r}")


def _notification(settings: Settings, key: SigningKey, row: repo.OutboxRow,
                  now: float) -> dict[str, str]:
    payload: dict[str, Any] = row.payload
    ingestion_id, status = str(payload["ingestionId"]), str(payload["processingStatus"])
    link = ""
    if ProcessingStatus(status).has_report:
        link = links.report_url(settings, base_url(settings), ingestion_id, now)
    message = sns.completion_message(ingestion_id, status, link, payload.get("summary") or {})
    return sns.build_notification(
        message_id=row.message_id, topic_arn=topic_arn(settings, row.retailer_id),
        subject=f"Catalog upload {status}", message=message,
        timestamp=_when(payload["timestamp"]), key=key, signing_cert_url=cert_url(settings),
        unsubscribe_url=unsubscribe_url(settings, row.subscription_id),
    )


def _confirmation(settings: Settings, key: SigningKey, row: repo.OutboxRow) -> dict[str, str]:
    token = str(row.payload["token"])
    arn = topic_arn(settings, row.retailer_id)
    when = _when(row.payload["timestamp"])
    if row.kind == sns.SUBSCRIPTION_CONFIRMATION:
        return sns.build_subscription_confirmation(
            message_id=row.message_id, topic_arn=arn, token=token,
            subscribe_url=subscribe_url(settings, token), timestamp=when, key=key,
            signing_cert_url=cert_url(settings))
    return sns.build_unsubscribe_confirmation(
        message_id=row.message_id, topic_arn=arn,
        subscription_arn=subscription_arn(settings, row.retailer_id, row.subscription_id),
        token=token, subscribe_url=subscribe_url(settings, token), timestamp=when, key=key,
        signing_cert_url=cert_url(settings))
