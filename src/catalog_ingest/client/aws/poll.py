"""The scheduled fallback: finish what no notification or retry finished in time.

Run by a schedule (EventBridge), it

* resumes the pushes left RUNNING or INTERRUPTED that no invocation holds (their S3 handler
  died and Lambda's retries of its event are spent), started more than
  ``CATALOG_INGEST_POLL_AFTER`` seconds ago, exactly as a redelivered S3 event would;
* looks at every open upload in the table (accepted, not ended) submitted more than
  ``CATALOG_INGEST_POLL_AFTER`` seconds ago, asks the API for its status, and completes the
  ones that ended as a notification would have (``settle.complete``); the others get their
  current status recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from catalog_ingest.client import CatalogClientError
from catalog_ingest.client.aws.config import Aws, Config
from catalog_ingest.client.aws.s3_ingest import LeaseHeld, S3Object, ingest
from catalog_ingest.client.aws.settle import complete

log = logging.getLogger(__name__)


def resume_stale_pushes(config: Config, aws: Aws, context: Any) -> int:
    """Resume the pushes whose handler died; returns how many were resumed."""
    resumed = 0
    for push in aws.tracking.stale_pushes(time.time() - config.poll_after):
        obj = S3Object.from_recorded(push.options)
        if obj is None or obj.push_id != push.push_id:
            continue
        try:
            ingest(obj.record(), context, config, aws)
        except LeaseHeld:
            continue  # someone took it up meanwhile
        except Exception:
            log.exception("resuming push %s of %s failed", push.push_id, obj.uri)
            continue
        resumed += 1
    return resumed


def poll_open_uploads(config: Config, aws: Aws, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    due = [c for c in aws.tracking.open_uploads()
           if (c.submitted_at or 0.0) <= now - config.poll_after]
    api = aws.api()
    counts = {"open": 0, "completed": 0, "failed": 0}
    try:
        for chunk in due:
            assert chunk.ingestion_id is not None
            try:
                status = api.get_status(chunk.ingestion_id)
                if status.terminal:
                    complete(aws, config, chunk.ingestion_id, status.processing_status,
                             status.report_url, api)
                    counts["completed"] += 1
                else:
                    if status.processing_status != chunk.status:
                        aws.tracking.update_chunk(chunk.push_id, chunk.seq,
                                                  status=status.processing_status)
                    counts["open"] += 1
            except CatalogClientError as exc:
                log.warning("status of %s: %s", chunk.ingestion_id, exc)
                counts["failed"] += 1
    finally:
        api.close()
    log.info("polled %d uploads: %s", len(due), counts)
    return {"polled": len(due), **counts}
