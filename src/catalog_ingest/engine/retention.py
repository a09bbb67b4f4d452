"""Retention: workers purge old uploads, payloads, notification records and portal batches.

Each batch is one short write transaction (at most `BATCH` rows), and a worker runs batches
only while it is idle and stops at once when new work arrives (`svc.wake`), so retention
never holds up processing. Rows go first, blobs after the commit: a purged id answers
exactly like an unknown one from that moment on; a crash between the two leaves at worst an
orphaned blob, never a row pointing at nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import retention as repo

log = logging.getLogger(__name__)
BATCH = 200
DAY = 86_400.0
#: The longest an idle worker spends in one retention pass before it looks for work again.
PASS_BUDGET_SECONDS = 2.0


@dataclass
class Purged:
    uploads: int = 0
    payloads: int = 0
    notifications: int = 0
    batches: int = 0

    @property
    def total(self) -> int:
        return self.uploads + self.payloads + self.notifications + self.batches


def _cutoff(now: float, days: float) -> float | None:
    """The time before which records go; None when that retention is switched off (0)."""
    return now - days * DAY if days > 0 else None


def purge_batch(svc: Runtime, now: float, batch: int = BATCH) -> Purged:
    """One batch of each kind of purge, as of `now` (a controlled clock in tests)."""
    settings, done = svc.settings, Purged()
    old = _cutoff(now, settings.retention_days)
    if old is not None:
        with svc.db.write() as conn:
            uploads = repo.take_old_uploads(conn, old, batch)
        for upload in uploads:
            for key in (upload.payload_key, upload.report_key):
                if key:
                    svc.blobs.delete(key)
        with svc.db.write() as conn:
            done.notifications = repo.delete_old_notifications(conn, old, batch)
        done.uploads = len(uploads)
        done.batches = _purge_batches(svc, old, batch)
    finished = _cutoff(now, settings.payload_retention_days)
    if finished is not None:
        with svc.db.write() as conn:
            keys = repo.take_finished_payloads(conn, finished, batch)
        for key in keys:
            svc.blobs.delete(key)
        done.payloads = len(keys)
    svc.metrics.observe_purge("uploads", done.uploads)
    svc.metrics.observe_purge("payloads", done.payloads)
    svc.metrics.observe_purge("notifications", done.notifications)
    svc.metrics.observe_purge("portal_batches", done.batches)
    return done


def _purge_batches(svc: Runtime, old: float, batch: int) -> int:
    """Portal batches past retention whose uploads are all gone, then their blobs."""
    with svc.db.write() as conn:
        taken = repo.take_old_batches(conn, old, batch)
    for keys in taken:
        for key in keys:
            svc.blobs.delete(key)
    return len(taken)


def purge(svc: Runtime, now: float, *, batch: int = BATCH,
          keep_going: Callable[[], bool] = lambda: True) -> Purged:
    """Batches until nothing is left to purge or `keep_going()` says stop."""
    total = Purged()
    while keep_going():
        done = purge_batch(svc, now, batch)
        total.uploads += done.uploads
        total.payloads += done.payloads
        total.notifications += done.notifications
        total.batches += done.batches
        if done.total < batch:
            return total
    return total


class RetentionPass:
    """What a worker calls when idle: a purge every `retention_interval` seconds, cut short
    as soon as an upload arrives or the pass has taken `PASS_BUDGET_SECONDS`."""

    def __init__(self, svc: Runtime, clock: Callable[[], float] = time.time) -> None:
        self.svc = svc
        self.clock = clock
        self._last = 0.0

    def maybe_run(self) -> Purged | None:
        now = self.clock()
        if now - self._last < self.svc.settings.retention_interval:
            return None
        self._last = now
        deadline = time.monotonic() + PASS_BUDGET_SECONDS

        def keep_going() -> bool:
            return not self.svc.wake.is_set() and time.monotonic() < deadline

        done = purge(self.svc, now, keep_going=keep_going)
        if done.total:
            log.info("retention purge", extra={"fields": {
                "uploads": done.uploads, "payloads": done.payloads,
                "notifications": done.notifications, "portal_batches": done.batches}})
        return done
