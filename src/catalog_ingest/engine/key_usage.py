"""Recording when an access key was last used, cheaply: at most one write a minute per key."""

from __future__ import annotations

import time

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal as repo

#: How stale a key's recorded last use may get; the integration page shows it to the minute.
RESOLUTION_SECONDS = 60.0


def is_due(last_used_at: float | None, now: float | None = None) -> bool:
    """Whether a use now should be written: none recorded yet, or the recorded one is stale."""
    now = time.time() if now is None else now
    return last_used_at is None or now - last_used_at >= RESOLUTION_SECONDS


def note_use(svc: Runtime, access_key_id: str, last_used_at: float | None,
             now: float | None = None) -> None:
    """Record a use of the key unless the one already recorded (read with the key) is recent.

    The check costs nothing (the value came with the key lookup); the conditional update keeps
    concurrent processes from writing more than once per minute each. While this process's
    SQLite writer is busy (a worker processing an upload) nothing is written: a request never
    waits for the writer just to record a use, and the next one records it.
    """
    now = time.time() if now is None else now
    if not is_due(last_used_at, now):
        return
    with svc.db.write_if_free() as conn:
        if conn is not None:
            repo.touch_key(conn, access_key_id, now, now - RESOLUTION_SECONDS)
