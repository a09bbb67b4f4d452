"""Managing a retailer's subscriptions: HTTP(S) endpoints (confirmed as SNS does) and SQS queues.

* An HTTP(S) subscription starts ``PENDING_CONFIRMATION``; a ``SubscriptionConfirmation`` is
  put in the outbox (so it is retried and survives restarts like any message) and the
  subscription is ``CONFIRMED`` once its ``SubscribeURL`` is fetched.
* An SQS subscription is ``CONFIRMED`` at once: whoever creates it gives the queue's
  address and credentials, which already proves the right to write to it.
* Unsubscribing (the admin command, or the ``UnsubscribeURL`` of any notification) makes it
  ``DELETED``; messages still waiting for it are dropped. A confirmed HTTP endpoint then gets
  an ``UnsubscribeConfirmation`` whose ``SubscribeURL`` restores the subscription.
* Subscribing an endpoint that already has a live subscription returns that one (SNS does
  the same); a pending one gets its confirmation again.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from catalog_ingest.crypto import seal_text, unseal_text
from catalog_ingest.errors import AuthenticationFailed, InvalidInput, NotFound
from catalog_ingest.notify import documents, outbox, sns
from catalog_ingest.runtime import Runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin
from catalog_ingest.storage import notifications as repo
from catalog_ingest.storage.notifications import Subscription

MAX_URL = 2048


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL
            or any(ch <= " " for ch in url)):
        raise InvalidInput(f"{what} must be an http:// or https:// URL, not {url!r}")
    return url


def _existing(conn: Connection, retailer_id: str, protocol: str,
              endpoint: str) -> Subscription | None:
    for sub in repo.list_subscriptions(conn, retailer_id):
        if sub.protocol == protocol and sub.endpoint == endpoint and sub.status != repo.DELETED:
            return sub
    return None


def subscribe_http(conn: Connection, retailer_id: str, url: str,
                   now: float | None = None) -> Subscription:
    """A pending HTTP(S) subscription and its SubscriptionConfirmation in the outbox."""
    now = time.time() if now is None else now
    admin.require_retailer(conn, retailer_id)
    protocol = urlsplit(_check_url(url, "the endpoint")).scheme
    sub = _existing(conn, retailer_id, protocol, url)
    if sub is None:
        sub = Subscription(str(uuid.uuid4()), retailer_id, protocol, url, {},
                           repo.PENDING_CONFIRMATION, secrets.token_hex(32), now, None)
        repo.insert_subscription(conn, sub)
    if sub.status == repo.PENDING_CONFIRMATION and sub.confirm_token is not None:
        outbox.record_confirmation(conn, sns.SUBSCRIPTION_CONFIRMATION, retailer_id,
                                   sub.subscription_id, sub.confirm_token, now)
    return sub


def subscribe_sqs(conn: Connection, server_secret: bytes, retailer_id: str, queue_url: str, *,
                  endpoint_url: str | None = None, region: str | None = None,
                  access_key_id: str | None = None, secret_access_key: str | None = None,
                  now: float | None = None) -> Subscription:
    """A confirmed SQS subscription; the secret access key is stored sealed."""
    now = time.time() if now is None else now
    admin.require_retailer(conn, retailer_id)
    _check_url(queue_url, "the SQS queue URL")
    if (access_key_id is None) != (secret_access_key is None):
        raise InvalidInput("give both the SQS access key id and secret access key, or neither")
    options: dict[str, str] = {}
    if endpoint_url:
        options["endpoint_url"] = _check_url(endpoint_url, "the SQS endpoint URL")
    if region:
        options["region"] = region
    if access_key_id is not None and secret_access_key is not None:
        options["access_key_id"] = access_key_id
        sealed = seal_text(server_secret, secret_access_key)
        options["secret_access_key_sealed"] = base64.b64encode(sealed).decode("ascii")
    existing = _existing(conn, retailer_id, "sqs", queue_url)
    if existing is not None and existing.sqs_options == options:
        return existing
    sub = Subscription(str(uuid.uuid4()), retailer_id, "sqs", queue_url, options,
                       repo.CONFIRMED, None, now, now)
    repo.insert_subscription(conn, sub)
    return sub


def sqs_client_options(server_secret: bytes, sub: Subscription) -> dict[str, Any]:
    """boto3 ``client("sqs", **options)`` arguments; without keys, botocore's own chain."""
    opts = sub.sqs_options
    kwargs: dict[str, Any] = {"region_name": opts.get("region") or _region_of(sub.endpoint)}
    if opts.get("endpoint_url"):
        kwargs["endpoint_url"] = opts["endpoint_url"]
    if opts.get("access_key_id"):
        kwargs["aws_access_key_id"] = opts["access_key_id"]
        sealed = base64.b64decode(opts["secret_access_key_sealed"])
        kwargs["aws_secret_access_key"] = unseal_text(server_secret, sealed)
    return kwargs


def _region_of(queue_url: str) -> str:
    """``sqs.eu-west-1.amazonaws.com`` → ``eu-west-1``; anything else → ``us-east-1``."""
    host = urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[-2:] == ["amazonaws", "com"]:
        return parts[1]
    return "us-east-1"


def unsubscribe(conn: Connection, subscription_id: str, now: float | None = None) -> Subscription:
    """Delete a subscription (idempotent); a confirmed HTTP one is told so."""
    now = time.time() if now is None else now
    sub = repo.get_subscription(conn, subscription_id)
    if sub is None:
        raise NotFound(f"no subscription {subscription_id!r}")
    if sub.status == repo.DELETED:
        return sub
    token = secrets.token_hex(32) if sub.protocol != "sqs" else None
    repo.set_subscription_status(conn, subscription_id, repo.DELETED, token, sub.confirmed_at)
    if token is not None and sub.status == repo.CONFIRMED:
        outbox.record_confirmation(conn, sns.UNSUBSCRIBE_CONFIRMATION, sub.retailer_id,
                                   subscription_id, token, now)
    deleted = repo.get_subscription(conn, subscription_id)
    assert deleted is not None
    return deleted


def confirm(conn: Connection, token: str, now: float | None = None) -> Subscription | None:
    """The subscription whose SubscribeURL carries ``token``, now confirmed; None if unknown."""
    now = time.time() if now is None else now
    sub = repo.subscription_by_token(conn, token) if token else None
    if sub is None:
        return None
    if sub.status != repo.CONFIRMED:
        repo.set_subscription_status(conn, sub.subscription_id, repo.CONFIRMED, token, now)
        sub = repo.get_subscription(conn, sub.subscription_id)
    return sub


def describe(settings: Settings, sub: Subscription) -> dict[str, Any]:
    """A subscription as the admin commands print it (never a secret)."""
    record: dict[str, Any] = {
        "subscription_id": sub.subscription_id,
        "subscription_arn": documents.subscription_arn(settings, sub.retailer_id,
                                                       sub.subscription_id),
        "retailer_id": sub.retailer_id,
        "protocol": sub.protocol,
        "endpoint": sub.endpoint,
        "status": sub.status,
        "created_at": sub.created_at,
        "confirmed_at": sub.confirmed_at,
    }
    if sub.protocol == "sqs":
        record["sqs_endpoint_url"] = sub.sqs_options.get("endpoint_url")
        record["sqs_region"] = sub.sqs_options.get("region")
        record["sqs_access_key_id"] = sub.sqs_options.get("access_key_id")
    return record


# --- the operations of the SNS-side URLs (SubscribeURL, UnsubscribeURL, SigningCertURL) ------

def confirm_by_token(svc: Runtime, token: str) -> str:
    """Confirm the subscription whose SubscribeURL carries ``token``; its SubscriptionArn."""
    if not token:
        raise InvalidInput("Invalid parameter: Token")
    with svc.db.write() as conn:
        sub = confirm(conn, token, time.time())
    if sub is None:
        raise NotFound("Subscription not found: invalid token")
    return documents.subscription_arn(svc.settings, sub.retailer_id, sub.subscription_id)


def unsubscribe_by_link(svc: Runtime, subscription_id: str, signature: str) -> None:
    """Unsubscribe through a notification's UnsubscribeURL (its MAC is the credential)."""
    if not subscription_id or not signature:
        raise InvalidInput("Invalid parameter: subscription")
    if not documents.unsubscribe_signature_ok(svc.settings.secret_key, subscription_id,
                                              signature):
        raise AuthenticationFailed("The unsubscribe link is not valid")
    with svc.db.write() as conn:
        if repo.get_subscription(conn, subscription_id) is None:
            raise NotFound("Subscription does not exist")
        unsubscribe(conn, subscription_id, time.time())


def signing_certificate(svc: Runtime) -> bytes:
    """The PEM certificate that verifies the deployment's notification signatures."""
    return documents.signing_key(svc.db, svc.settings.secret_key).certificate_pem
