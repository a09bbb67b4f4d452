"""What the portal's uploads and integration pages show, read from the retailer's view only.

Every function takes the caller's retailer id and never returns another retailer's data: an
upload of someone else is `UnknownIngestion`, the same as one that does not exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.engine import intake
from catalog_ingest.engine.health import HEARTBEAT_WINDOW
from catalog_ingest.engine.merchant_center import StatusService
from catalog_ingest.errors import UnknownIngestion
from catalog_ingest.notify.subscriptions import describe
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, notifications, uploads
from catalog_ingest.storage import portal as repo
from catalog_ingest.storage.portal import KeyRow, UploadFilter
from catalog_ingest.storage.uploads import Upload

SOURCES = ("api", "push", "portal")
PAGE_SIZE = 50


@dataclass(frozen=True)
class UploadView:
    """An upload as the portal shows it: the row, plus whether (and why) it is stuck."""

    upload: Upload
    stuck: str | None
    #: Seconds since submission (queued/running) or from submission to completion.
    age: float

    @property
    def terminal(self) -> bool:
        return S(self.upload.status).terminal

    @property
    def cancellable(self) -> bool:
        return self.upload.status == S.INQUEUE.value


@dataclass(frozen=True)
class UploadPage:
    views: list[UploadView]
    #: The `before` cursor of the next (older) page; None on the last page.
    next_before: int | None


@dataclass(frozen=True)
class StoreCounts:
    store_id: str
    name: str
    merchant_id: int
    catalog_id: int
    published: int
    rejected: int


@dataclass(frozen=True)
class IntegrationHealth:
    keys: list[KeyRow]
    subscriptions: list[dict[str, Any]]
    attempts: list[notifications.Attempt]
    stores: list[StoreCounts]
    live_workers: int


def stuck_reason(upload: Upload, now: float, live_workers: int, stuck_after: float) -> str | None:
    """Why an unfinished upload is not moving, or None while it is fine.

    Stuck means: waited (queued, or since its claim's worker stopped) longer than
    `stuck_after` while no worker is alive to take it.
    """
    if S(upload.status).terminal or live_workers > 0:
        return None
    waited = now - (upload.started_at if upload.status == S.INPROGRESS.value
                    and upload.started_at else upload.submitted_at)
    if waited < stuck_after:
        return None
    minutes = max(1, int(waited // 60))
    wait = f"{minutes} minute{'s' if minutes != 1 else ''}" if waited >= 60 else \
        f"{int(waited)} seconds"
    if upload.status == S.INQUEUE.value:
        return (f"No worker is running: this upload has waited {wait} in the queue and nothing "
                "is processing uploads. Start “catalog-ingest worker” (or “catalog-ingest serve” "
                "with its in-process worker); it is then processed in order.")
    return (f"Its worker stopped: it has been in progress for {wait} and no worker is running. "
            "It is taken up again, from the start, as soon as a worker runs.")


def _live_workers(conn: Any, now: float) -> int:
    """Workers alive as /healthz counts them (a heartbeat within HEARTBEAT_WINDOW)."""
    return repo.live_worker_count(conn, now - HEARTBEAT_WINDOW)


def _view(upload: Upload, now: float, workers: int, stuck_after: float) -> UploadView:
    end = upload.completed_at if upload.completed_at is not None else now
    return UploadView(upload, stuck_reason(upload, now, workers, stuck_after),
                      max(0.0, end - upload.submitted_at))


def list_uploads(svc: Runtime, retailer_id: str, flt: UploadFilter,
                 before: int | None = None, limit: int = PAGE_SIZE) -> UploadPage:
    """The retailer's uploads from every source, newest first, one page at a time."""
    now = time.time()
    with svc.db.read() as conn:
        rows = repo.list_uploads(conn, retailer_id, flt, limit + 1, before)
        workers = _live_workers(conn, now)
    more = len(rows) > limit
    rows = rows[:limit]
    views = [_view(u, now, workers, svc.settings.portal_stuck_after) for u in rows]
    return UploadPage(views, rows[-1].seq if more and rows else None)


def upload_view(svc: Runtime, retailer_id: str, ingestion_id: str) -> UploadView:
    """One of the retailer's uploads; UnknownIngestion (a 404) for anyone else's."""
    now = time.time()
    with svc.db.read() as conn:
        upload = uploads.get_upload(conn, ingestion_id, retailer_id)
        if upload is None:
            raise UnknownIngestion(f"no upload {ingestion_id!r}")
        workers = _live_workers(conn, now)
    return _view(upload, now, workers, svc.settings.portal_stuck_after)


def cancel_upload(svc: Runtime, retailer_id: str, ingestion_id: str) -> None:
    """The API's cancelCatalogUpload: INQUEUE → CANCELLED, else NotCancellable."""
    intake.cancel(svc, retailer_id, ingestion_id)


def mmc_counts(svc: Runtime, retailer_id: str,
               status: StatusService | None = None) -> list[StoreCounts]:
    """Merchant-Center status counts per store: what the Status resource answers for each."""
    status = status or StatusService(svc, cache=False)
    with svc.db.read() as conn:
        stores = admin.retailer_stores(conn, retailer_id)
    counts = []
    for store in stores:
        found = status.status(retailer_id, str(store.merchant_id), str(store.catalog_id))
        counts.append(StoreCounts(store.store_id, store.name, store.merchant_id,
                                  store.catalog_id, found.published, found.rejected))
    return counts


def integration_health(svc: Runtime, retailer_id: str, attempts: int = 50,
                       status: StatusService | None = None) -> IntegrationHealth:
    """Keys with their last use, subscriptions, recent deliveries, per-store counts."""
    now = time.time()
    with svc.db.read() as conn:
        keys = repo.retailer_keys(conn, retailer_id)
        subs = [describe(svc.settings, s)
                for s in notifications.list_subscriptions(conn, retailer_id)]
        recent = notifications.list_attempts(conn, retailer_id, attempts)
        workers = _live_workers(conn, now)
    return IntegrationHealth(keys, subs, recent, mmc_counts(svc, retailer_id, status), workers)
