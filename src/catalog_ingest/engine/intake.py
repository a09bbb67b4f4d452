"""Accepting uploads and archive requests: store checks, idempotency, durable storage, wake-up."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence

from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine.reports import payload_key
from catalog_ingest.engine.services import Services
from catalog_ingest.errors import (
    IdempotencyMismatch,
    IncompleteStoreList,
    MixedStores,
    NotCancellable,
    UnknownIngestion,
    UnknownStores,
)
from catalog_ingest.storage import admin, uploads
from catalog_ingest.storage.uploads import Upload


def check_stores(svc: Services, retailer_id: str, store_ids: Sequence[str]) -> None:
    """The contract's two store errors, seen from the caller's retailer only."""
    with svc.db.read() as conn:
        found = admin.stores_by_id(conn, list(store_ids))
    own = sum(1 for s in found.values() if s.retailer_id == retailer_id)
    if own == 0:
        raise UnknownStores("One or more StoreID's present in the request is incorrect")
    if own < len(store_ids):
        raise MixedStores(
            "List of store ID's present in the request are either incorrect/not associated "
            "with same retailer"
        )


def check_all_stores(svc: Services, retailer_id: str, store_ids: Sequence[str]) -> None:
    """Archive's allApplicableStores must be exactly the retailer's stores."""
    with svc.db.read() as conn:
        own = [s.store_id for s in admin.retailer_stores(conn, retailer_id)]
    if sorted(set(store_ids)) != own:
        raise IncompleteStoreList(own)


def accept(svc: Services, *, retailer_id: str, kind: UploadKind, body: bytes, item_count: int,
           store_ids: Sequence[str], idempotency_key: str | None) -> str:
    """Store the upload durably and queue it; the ingestion id (an earlier one on a replay)."""
    request_hash = hashlib.sha256(body).hexdigest()
    now = time.time()
    not_before = now - svc.settings.idempotency_ttl
    if idempotency_key is not None:
        with svc.db.read() as conn:
            earlier = uploads.find_by_idempotency_key(
                conn, retailer_id, idempotency_key, not_before
            )
        if earlier is not None:
            return _replay(earlier, request_hash)
    ingestion_id = str(uuid.uuid4())
    key = payload_key(ingestion_id)
    svc.blobs.put(key, body)  # durable before the row that points at it commits
    with svc.db.write() as conn:
        if idempotency_key is not None:
            earlier = uploads.find_by_idempotency_key(
                conn, retailer_id, idempotency_key, not_before, release=True
            )
            if earlier is not None:  # lost a race with a concurrent retry of the same request
                svc.blobs.delete(key)
                return _replay(earlier, request_hash)
        uploads.insert_upload(
            conn, ingestion_id=ingestion_id, retailer_id=retailer_id, kind=kind.value,
            item_count=item_count, store_ids=sorted(set(store_ids)), payload_key=key,
            idempotency_key=idempotency_key, request_hash=request_hash, submitted_at=now,
        )
    svc.wake.set()
    return ingestion_id


def _replay(earlier: Upload, request_hash: str) -> str:
    if earlier.request_hash != request_hash:
        raise IdempotencyMismatch("Idempotency-Key was already used with a different request body")
    return earlier.ingestion_id


def get_upload(svc: Services, retailer_id: str, ingestion_id: str) -> Upload:
    with svc.db.read() as conn:
        upload = uploads.get_upload(conn, ingestion_id, retailer_id)
    if upload is None:
        raise UnknownIngestion("API invoked with Invalid parameter")
    return upload


def cancel(svc: Services, retailer_id: str, ingestion_id: str) -> None:
    """INQUEUE → CANCELLED; anything else is NotCancellable."""
    with svc.db.write() as conn:
        upload = uploads.get_upload(conn, ingestion_id, retailer_id)
        if upload is None:
            raise UnknownIngestion("API invoked with Invalid parameter")
        now = time.time()
        if upload.status != S.INQUEUE.value or not uploads.finish(
            conn, ingestion_id, None, S.CANCELLED.value, None, None, None, now
        ):
            raise NotCancellable(upload.status)
        from catalog_ingest.engine.processor import record_completion

        record_completion(conn, upload, S.CANCELLED.value, None, now)
