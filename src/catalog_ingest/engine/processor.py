"""Process one claimed upload: load what it touches, plan, write, report, finish — atomically."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec

from catalog_ingest.domain.rules import item_barcodes
from catalog_ingest.domain.status import ProcessingStatus as S
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import reports
from catalog_ingest.engine.planner import (
    CatalogState,
    Plan,
    archive_summary,
    plan_archive,
    plan_upload,
)
from catalog_ingest.errors import BlobNotFound, CatalogIngestError, Conflict
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from catalog_ingest.storage.catalog import CatalogRepo
from catalog_ingest.storage.uploads import Upload

log = logging.getLogger(__name__)


class LostClaim(Conflict):
    """Another worker took this upload over (our lease ran out); our work is rolled back."""


class Interrupted(CatalogIngestError):
    """The worker is shutting down and its grace period is over; our work is rolled back."""


Interrupt = Callable[[], bool]


def _checkpoint(interrupted: Interrupt) -> None:
    if interrupted():
        raise Interrupted()


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while an upload is processed (nestable, thread-safe).

    An upload allocates ~10^5 short-lived containers; the collections they trigger rescan
    every live object and took half of the planner's time at 10k items. Reference counting
    still frees all of it at once; only reference cycles wait for the pause to end.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def process(svc: Runtime, upload: Upload, worker_id: str,
            interrupted: Interrupt = lambda: False) -> str:
    """Take `upload` from INPROGRESS to DONE or FATAL; returns the final status.

    `interrupted` is asked between the stages; when it says so, Interrupted is raised and
    nothing of the upload is applied (the write transaction rolls back).
    """
    with gc_paused():
        return _process(svc, upload, worker_id, interrupted)


def _process(svc: Runtime, upload: Upload, worker_id: str, interrupted: Interrupt) -> str:
    try:
        doc = msgspec.json.decode(svc.blobs.get(upload.payload_key))
    except (BlobNotFound, msgspec.DecodeError) as exc:
        log.error("upload %s: payload unreadable (%s)", upload.ingestion_id, type(exc).__name__)
        return finish_fatal(svc, upload, worker_id, "PAYLOAD_UNREADABLE",
                            "The stored upload payload could not be read")
    _checkpoint(interrupted)
    if upload.kind == UploadKind.ARCHIVE:
        _process_archive(svc, upload, worker_id, doc, interrupted)
    else:
        _process_items(svc, upload, worker_id, doc["catalogItems"], interrupted)
    return S.DONE.value


def load_state(repo: CatalogRepo, items: Sequence[Mapping[str, Any]],
               codes_out: list[list[str]] | None = None) -> CatalogState:
    """The items, barcode owners and last rejections that these items can touch.

    With `codes_out`, each item's barcodes are appended to it (the planner needs them too).
    """
    by_store: dict[str, tuple[list[str], list[str]]] = {}
    for item in items:
        entry = by_store.get(item["store_id"])
        if entry is None:  # not setdefault: that would build two lists per item
            entry = by_store[item["store_id"]] = ([], [])
        skus, codes = entry
        skus.append(item["item_sku"])
        item_codes = item_barcodes(item)
        codes.extend(item_codes)
        if codes_out is not None:
            codes_out.append(item_codes)
    state = CatalogState()
    for store, (skus, codes) in by_store.items():
        for sku, stored in repo.load_items(store, skus).items():
            state.items[(store, sku)] = stored
            if stored.active:
                for code in stored.barcodes:
                    state.owners[(store, code)] = sku
        # A live item's barcodes are all its own (the invariant every write keeps), so only
        # barcodes that no loaded item holds need looking up: none at all for a resync.
        unknown = [code for code in codes if (store, code) not in state.owners]
        if unknown:
            for code, sku in repo.load_barcode_owners(store, unknown).items():
                state.owners[(store, code)] = sku
        state.rejected.update((store, sku) for sku in repo.load_rejected(store, skus))
    return state


def write_plan(repo: CatalogRepo, plan: Plan, ingestion_id: str, now: float) -> None:
    repo.delete_barcodes(plan.barcode_deletes)
    repo.set_inactive(plan.deactivate, now, ingestion_id)
    repo.upsert_items(list(plan.item_rows.values()))
    repo.insert_barcodes(plan.barcode_inserts)
    repo.upsert_rejections(plan.rejection_upserts)
    repo.delete_rejections(plan.rejection_deletes)


def _process_items(svc: Runtime, upload: Upload, worker_id: str,
                   items: Sequence[Mapping[str, Any]], interrupted: Interrupt) -> None:
    """Plan and apply an upload; the stateless rules run in the planner, only where they can
    matter (an unchanged, typed item repeats values that already passed them)."""
    _checkpoint(interrupted)
    with svc.db.write() as conn:
        now = time.time()
        repo = CatalogRepo(conn)
        codes: list[list[str]] = []
        state = load_state(repo, items, codes)
        plan = plan_upload(items, None, state, upload.ingestion_id, now, codes)
        _apply(svc, conn, repo, upload, worker_id, plan, plan.summary(), now, interrupted)


def _process_archive(svc: Runtime, upload: Upload, worker_id: str, doc: Mapping[str, Any],
                     interrupted: Interrupt) -> None:
    skus: list[str] = doc["itemSkus"]
    stores: list[str] = doc["allApplicableStores"]
    with svc.db.write() as conn:
        now = time.time()
        repo = CatalogRepo(conn)
        found = repo.find_skus(stores, sorted(set(skus)))
        state = CatalogState()
        for store in {s for s, _, active in found if active}:
            live = [k for s, k, active in found if s == store and active]
            for sku, stored in repo.load_items(store, live).items():
                state.items[(store, sku)] = stored
                for code in stored.barcodes:
                    state.owners[(store, code)] = sku
        plan = plan_archive(skus, found, state, upload.ingestion_id, now)
        _apply(svc, conn, repo, upload, worker_id, plan, archive_summary(plan, len(skus)), now,
               interrupted)


def _apply(svc: Runtime, conn: Any, repo: CatalogRepo, upload: Upload, worker_id: str,
           plan: Plan, summary: dict[str, int], now: float, interrupted: Interrupt) -> None:
    """Write the plan, then the report, then end the upload (fenced), all in `conn`'s transaction.

    The report's completedAt is taken after the catalog writes (not at planning time), and the
    same instant is the upload's completed_at; its item results are encoded while the bulk
    writes run. The report is durable before the commit: DONE never points at a missing report.
    """
    _checkpoint(interrupted)
    results = svc.io.submit(reports.encode_results, plan.results)
    write_plan(repo, plan, upload.ingestion_id, now)
    _checkpoint(interrupted)
    completed = time.time()
    body = reports.build_report(
        ingestion_id=upload.ingestion_id, status=S.DONE.value, submitted_at=upload.submitted_at,
        started_at=upload.started_at, completed_at=completed, summary=summary,
        results=results.result(),
    )
    key = reports.report_key(upload.ingestion_id)
    svc.blobs.put(key, body)
    if not uploads.finish(conn, upload.ingestion_id, worker_id, S.DONE.value, summary, None, key,
                          completed):
        raise LostClaim(upload.ingestion_id)
    record_completion(conn, upload, S.DONE.value, summary, completed)


def finish_fatal(svc: Runtime, upload: Upload, worker_id: str, code: str, message: str) -> str:
    """End the upload FATAL: nothing of it applied, a report that says why."""
    now = time.time()
    error = {"code": code, "message": message}
    summary = reports.fatal_summary(upload.item_count)
    body = reports.build_report(
        ingestion_id=upload.ingestion_id, status=S.FATAL.value, submitted_at=upload.submitted_at,
        started_at=upload.started_at, completed_at=now, summary=summary, results=[], error=error,
    )
    key = reports.report_key(upload.ingestion_id)
    svc.blobs.put(key, body)
    with svc.db.write() as conn:
        if not uploads.finish(conn, upload.ingestion_id, worker_id, S.FATAL.value, summary, error,
                              key, now):
            raise LostClaim(upload.ingestion_id)
        record_completion(conn, upload, S.FATAL.value, summary, now)
    return S.FATAL.value


def record_completion(conn: Any, upload: Upload, status: str, summary: dict[str, int] | None,
                      now: float) -> None:
    """Hook for the completion notification outbox, written in the transaction that ends an upload.

    Notifications are recorded by `catalog_ingest.notify.outbox` once subscriptions exist.
    """
    from catalog_ingest.notify import outbox

    outbox.record(conn, upload.retailer_id, upload.ingestion_id, status, summary, now)
