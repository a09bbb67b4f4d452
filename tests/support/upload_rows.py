"""An accepted upload's row, read by a test beside a real `serve` (waiting out the intake inbox)."""

from __future__ import annotations

import time

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from catalog_ingest.storage.uploads import Upload

#: How long an accepted upload may wait in the intake inbox in these tests.
MOVE_DEADLINE = 60.0


def upload_row(svc: Runtime, ingestion_id: str) -> Upload:
    """The upload's `uploads` row. On SQLite an upload accepted while any process held the
    catalog's write lock (serve's worker child processing, claiming, beating its heart)
    waits in the intake inbox until the next write moves it, within milliseconds with the
    worker woken at every accept: that is waited for here. An upload in neither file is lost,
    which fails the test."""
    deadline = time.monotonic() + MOVE_DEADLINE
    while True:
        found = _row(svc, ingestion_id)
        if found is not None:
            return found
        waiting = svc.db.inbox is not None and svc.db.inbox.find(ingestion_id) is not None
        if not waiting:  # it may have moved between the two reads: the last look
            found = _row(svc, ingestion_id)
            assert found is not None, f"acknowledged upload lost: {ingestion_id}"
            return found
        assert time.monotonic() < deadline, f"upload left in the intake inbox: {ingestion_id}"
        time.sleep(0.005)  # polling a condition with a deadline


def _row(svc: Runtime, ingestion_id: str) -> Upload | None:
    with svc.db.read() as conn:
        return uploads.get_upload(conn, ingestion_id)
