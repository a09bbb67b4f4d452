"""The notification outbox: completion messages recorded with the upload's end, delivered later.

``record`` runs inside the transaction that ends an upload (DONE, FATAL: the processor;
CANCELLED: intake), so the message exists exactly when the end is committed: a rollback
leaves neither, and a crash after the commit leaves a message that a deliverer sends.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from catalog_ingest.notify import sns
from catalog_ingest.storage import notifications as repo


def record(conn: Connection | Any, retailer_id: str, ingestion_id: str, status: str,
           summary: dict[str, int] | None, now: float) -> int:
    """One ``Notification`` per confirmed subscription of the retailer, all with the one
    ``MessageId`` of this publish (as SNS does); how many were recorded.

    A CANCELLED upload has no summary: its message carries ``{}``.
    """
    subscription_ids = repo.confirmed_subscription_ids(conn, retailer_id)
    if not subscription_ids:
        return 0
    message_id = str(uuid.uuid4())
    payload = {"ingestionId": ingestion_id, "processingStatus": status,
               "summary": dict(summary or {}), "timestamp": now}
    for subscription_id in subscription_ids:
        repo.enqueue(conn, message_id=message_id, kind=sns.NOTIFICATION, retailer_id=retailer_id,
                     subscription_id=subscription_id, ingestion_id=ingestion_id,
                     payload=payload, now=now)
    return len(subscription_ids)


def record_confirmation(conn: Connection, kind: str, retailer_id: str, subscription_id: str,
                        token: str, now: float) -> str:
    """A (Un)SubscriptionConfirmation for one endpoint, delivered (and retried) like any
    message, so it survives restarts; its MessageId."""
    message_id = str(uuid.uuid4())
    repo.enqueue(conn, message_id=message_id, kind=kind, retailer_id=retailer_id,
                 subscription_id=subscription_id, ingestion_id=None,
                 payload={"token": token, "timestamp": now}, now=now)
    return message_id
