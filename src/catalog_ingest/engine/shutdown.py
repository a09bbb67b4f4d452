"""Graceful shutdown of a process's workers: stop claiming, then give claims back at the grace.

`begin()` (SIGTERM) sets `stop` (no new claims; idle waits end) and arms a timer that sets
`abort` when `settings.shutdown_grace` has passed: a worker still processing then rolls its
upload back and releases the claim, so the next start (on any host) takes it up at once
instead of waiting for the lease to run out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from catalog_ingest.runtime import Runtime

log = logging.getLogger(__name__)
#: After `abort`, how long a worker may take to roll back and release before we stop waiting.
RELEASE_MARGIN_SECONDS = 10.0


class Shutdown:
    def __init__(self, svc: Runtime, stop: threading.Event) -> None:
        self.svc = svc
        self.stop = stop
        self.abort = threading.Event()
        self._lock = threading.Lock()
        self._deadline: float | None = None

    def begin(self) -> None:
        """Idempotent: the first call starts the grace period."""
        with self._lock:
            if self._deadline is not None:
                return
            grace = self.svc.settings.shutdown_grace
            self._deadline = time.monotonic() + grace
            log.info("shutting down", extra={"fields": {"grace_seconds": grace}})
            timer = threading.Timer(grace, self.abort.set)
            timer.daemon = True
            timer.start()
        self.stop.set()
        self.svc.wake.set()

    def join(self, threads: Sequence[threading.Thread]) -> None:
        """Wait for `threads` until the grace period and the release margin are over."""
        self.begin()
        assert self._deadline is not None
        end = self._deadline + RELEASE_MARGIN_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, end - time.monotonic()))
        left = [t.name for t in threads if t.is_alive()]
        if left:
            log.warning("threads still running at exit", extra={"fields": {"threads": left}})
