"""The intake service: accept uploads and archive requests, answer their status, cancel them.

Every skin submits through here (the JWO API, the portal): the request model, the store
checks, idempotency, durable storage and the worker wake-up are the same for all.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from catalog_ingest import links
from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine.reports import payload_key
from catalog_ingest.engine.requests import (
    ArchiveRequest,
    UploadRequest,
    check_idempotency_key,
    decode,
)
from catalog_ingest.errors import (
    IdempotencyMismatch,
    IncompleteStoreList,
    MixedStores,
    NotCancellable,
    UnknownIngestion,
    UnknownStores,
)
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, uploads
from catalog_ingest.storage.database import translate_errors
from catalog_ingest.storage.uploads import Upload


def check_stores(svc: Runtime, retailer_id: str, store_ids: Sequence[str]) -> None:
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


def check_all_stores(svc: Runtime, retailer_id: str, store_ids: Sequence[str]) -> None:
    """Archive's allApplicableStores must be exactly the retailer's stores."""
    with svc.db.read() as conn:
        own = [s.store_id for s in admin.retailer_stores(conn, retailer_id)]
    if sorted(set(store_ids)) != own:
        raise IncompleteStoreList(own)


#: How long staging waits for the payload write to get under way (a thread wake-up, normally
#: well under a millisecond; a slow blob store is not waited for longer than this).
_WRITE_START_WAIT = 0.005


@dataclass
class StagedPayload:
    """A payload blob being written in the background while the request is validated."""

    ingestion_id: str
    key: str
    written: Future[None]

    def discard(self, svc: Runtime) -> None:
        """Remove the blob once written: the request it belonged to was not accepted."""
        self.written.add_done_callback(lambda _: svc.blobs.delete(self.key))


def stage_payload(svc: Runtime, body: bytes) -> StagedPayload:
    """Start writing `body` as the payload of a new upload; `accept` waits for it.

    Returns once the write is under way (at most a few milliseconds later): the decode that
    follows holds the GIL throughout, and a write thread that had not reached its long,
    GIL-free system call by then would only start after it (measured in-process on a 10k-item
    body: decode 8 ms, then 8 ms more waiting for the payload).
    """
    ingestion_id = str(uuid.uuid4())
    key = payload_key(ingestion_id)
    writing = threading.Event()
    written = svc.io.submit(svc.blobs.put, key, body, writing)
    writing.wait(_WRITE_START_WAIT)
    return StagedPayload(ingestion_id, key, written)


#: The User-Agent prefix of the retailer toolkit's SDK (client/_protocol.py).
TOOLKIT_USER_AGENT = "catalog-ingest/"


def upload_source(user_agent: str | None) -> str:
    """Where an API upload came from, as the uploads page shows it: `push` when the caller is the
    retailer toolkit (its SDK, which `push` drives, sends `catalog-ingest/<version>`), else `api`.
    The portal passes `portal` itself."""
    return "push" if (user_agent or "").startswith(TOOLKIT_USER_AGENT) else "api"


def accept(svc: Runtime, *, retailer_id: str, kind: UploadKind, body: bytes, item_count: int,
           store_ids: Sequence[str], idempotency_key: str | None,
           request_hash: str | None = None, staged: StagedPayload | None = None,
           source: str = "api", batch_id: str | None = None) -> str:
    """Store the upload durably and queue it; the ingestion id (an earlier one on a replay).

    The payload blob is on disk (fsynced) before the row that points at it commits, and the
    row is committed before this returns: a 201 is never sent for anything a crash can lose.
    """
    request_hash = request_hash or hashlib.sha256(body).hexdigest()
    staged = staged or stage_payload(svc, body)
    try:
        return _accept_staged(svc, staged, retailer_id, kind, item_count, store_ids,
                              idempotency_key, request_hash, (source, batch_id))
    except BaseException:
        staged.discard(svc)
        raise


def _accept_staged(svc: Runtime, staged: StagedPayload, retailer_id: str, kind: UploadKind,
                   item_count: int, store_ids: Sequence[str], idempotency_key: str | None,
                   request_hash: str, origin: tuple[str, str | None]) -> str:
    now = time.time()
    not_before = now - svc.settings.idempotency_ttl
    if idempotency_key is not None:
        with svc.db.read() as conn:
            earlier = uploads.find_by_idempotency_key(
                conn, retailer_id, idempotency_key, not_before
            )
        if earlier is not None:
            staged.discard(svc)
            return _replay(earlier, request_hash)
    staged.written.result()
    earlier = uploads.store_upload(
        svc.db, not_before, ingestion_id=staged.ingestion_id, retailer_id=retailer_id,
        kind=kind.value, item_count=item_count, store_ids=sorted(set(store_ids)),
        payload_key=staged.key, idempotency_key=idempotency_key, request_hash=request_hash,
        submitted_at=now, source=origin[0], batch_id=origin[1],
    )
    if earlier is not None:  # lost a race with a concurrent retry of the same request
        staged.discard(svc)
        return _replay(earlier, request_hash)
    svc.wake.set()
    return staged.ingestion_id


def _replay(earlier: Upload, request_hash: str) -> str:
    if earlier.request_hash != request_hash:
        raise IdempotencyMismatch("Idempotency-Key was already used with a different request body")
    return earlier.ingestion_id


@dataclass(frozen=True)
class UploadStatus:
    """What getCatalogUploadStatus answers: the status and, once there is a report, its link."""

    processing_status: str
    report_download_link: str


def submit_upload(svc: Runtime, retailer_id: str, body: bytes, *,
                  idempotency_key: str | None = None, body_sha256: str | None = None,
                  source: str = "api", batch_id: str | None = None) -> str:
    """Accept a `{"catalogItems": [...]}` body for the retailer; its ingestion id.

    `source` (api | push | portal) and the portal's `batch_id` are recorded with the upload.

    The payload is written while the body is decoded and its stores checked (the fsyncs
    release the GIL); a request that turns out invalid discards it.
    """
    staged = stage_payload(svc, body)
    try:
        request = decode(body, UploadRequest)
        check_idempotency_key(idempotency_key)  # request model: checked before stores
        store_ids = list(dict.fromkeys(item.store_id for item in request.catalogItems))
        check_stores(svc, retailer_id, store_ids)
    except BaseException:
        staged.discard(svc)
        raise
    return accept(svc, retailer_id=retailer_id, kind=UploadKind.UPLOAD, body=body,
                  item_count=len(request.catalogItems), store_ids=store_ids,
                  idempotency_key=idempotency_key, request_hash=body_sha256, staged=staged,
                  source=source, batch_id=batch_id)


def submit_archive(svc: Runtime, retailer_id: str, body: bytes, *,
                   idempotency_key: str | None = None, body_sha256: str | None = None,
                   source: str = "api", batch_id: str | None = None) -> str:
    """Accept an `{"itemSkus": [...], "allApplicableStores": [...]}` body; its ingestion id."""
    request = decode(body, ArchiveRequest)
    check_idempotency_key(idempotency_key)
    check_all_stores(svc, retailer_id, request.allApplicableStores)
    return accept(svc, retailer_id=retailer_id, kind=UploadKind.ARCHIVE, body=body,
                  item_count=len(request.itemSkus), store_ids=request.allApplicableStores,
                  idempotency_key=idempotency_key, request_hash=body_sha256, source=source,
                  batch_id=batch_id)


def upload_status(svc: Runtime, retailer_id: str, ingestion_id: str,
                  base_url: str) -> UploadStatus:
    """The upload's status and, when DONE or FATAL, a fresh report link under `base_url`."""
    with translate_errors():  # a lost database is the retry-recommended 500, as for any read
        status = uploads.lookup_status(svc.db, ingestion_id, retailer_id)
    if status is None:
        raise UnknownIngestion("API invoked with Invalid parameter")
    link = ""
    if S(status).has_report:
        link = links.report_url(svc.settings, base_url, ingestion_id)
    return UploadStatus(status, link)


def get_upload(svc: Runtime, retailer_id: str, ingestion_id: str) -> Upload:
    with translate_errors():  # a lost database is the retry-recommended 500, as for any read
        upload = uploads.lookup_upload(svc.db, ingestion_id, retailer_id)
    if upload is None:
        raise UnknownIngestion("API invoked with Invalid parameter")
    return upload


def cancel(svc: Runtime, retailer_id: str, ingestion_id: str) -> None:
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
