"""What the metrics endpoint reads from the database at scrape time."""

from __future__ import annotations

import time

from catalog_ingest.observability.metrics import QueueSnapshot
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import ops_stats, uploads

#: A worker counts as live when its heartbeat is at most this old (as /healthz counts).
HEARTBEAT_WINDOW = 30.0


def queue_snapshot(svc: Runtime) -> QueueSnapshot:
    with svc.db.read() as conn:
        by_status = ops_stats.upload_status_counts(conn)
        outbox = ops_stats.outbox_status_counts(conn)
        workers, oldest = uploads.queue_stats(conn, time.time(), HEARTBEAT_WINDOW)
    return QueueSnapshot(by_status, oldest, workers, outbox)
