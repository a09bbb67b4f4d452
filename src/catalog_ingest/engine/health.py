"""The service's health as /healthz reports it: database, blob store, live workers, queue age."""

from __future__ import annotations

import time
from dataclasses import dataclass

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads

HEARTBEAT_WINDOW = 30.0


@dataclass(frozen=True)
class Health:
    database_ok: bool
    blobs_ok: bool
    #: Workers that sent a heartbeat in the last 30 s (None when the database is unreachable).
    workers: int | None
    #: How long the oldest INQUEUE upload has waited (0 when none; None when unknown).
    oldest_queued_seconds: float | None

    @property
    def ok(self) -> bool:
        return self.database_ok and self.blobs_ok


def health(svc: Runtime) -> Health:
    """Probe the database and the blob store; never raises."""
    database_ok = True
    workers: int | None = None
    oldest: float | None = None
    try:
        with svc.db.read() as conn:
            workers, queued = uploads.queue_stats(conn, time.time(), HEARTBEAT_WINDOW)
        oldest = round(queued or 0.0, 3)
    except Exception:
        database_ok = False
    try:
        svc.blobs.check()
        blobs_ok = True
    except Exception:
        blobs_ok = False
    return Health(database_ok, blobs_ok, workers, oldest)
