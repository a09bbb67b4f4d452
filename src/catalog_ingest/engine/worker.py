"""The worker loop: claim uploads in order, keep the claim alive, process, recover from deaths."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from catalog_ingest.engine.processor import LostClaim, finish_fatal, process
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from catalog_ingest.storage.uploads import Upload

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_local_dead_claims(svc: Runtime) -> int:
    """Free at once the claims of this host's workers whose process is gone (no lease wait)."""
    host = socket.gethostname()
    with svc.db.read() as conn:
        claims = uploads.active_claims(conn)
    dead = []
    for _, worker_id in claims:
        parts = worker_id.split(":")
        if (len(parts) == 3 and parts[0] == host and parts[1].isdigit()
                and int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1]))):
            dead.append(worker_id)
    if not dead:
        return 0
    with svc.db.write() as conn:
        return uploads.release_dead_claims(conn, dead)


class Worker:
    """One sequential worker; run several (threads or processes) for throughput."""

    def __init__(self, svc: Runtime, worker_id: str | None = None) -> None:
        self.svc = svc
        self.worker_id = worker_id or new_worker_id()
        self._last_heartbeat = 0.0

    def heartbeat(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            with self.svc.db.write() as conn:
                uploads.heartbeat(conn, self.worker_id, now)
            self._last_heartbeat = now

    def run_once(self) -> str | None:
        """Claim and process one upload; its final status, or None when nothing was claimable
        or the attempt did not end it (it failed and will be retried, or was taken over)."""
        return self.step()[1]

    def step(self) -> tuple[bool, str | None]:
        """One claim and attempt: (whether an upload was claimed, its final status or None)."""
        settings = self.svc.settings
        with self.svc.db.write() as conn:
            upload = uploads.claim_next(conn, self.worker_id, settings.lease_seconds, time.time())
        if upload is None:
            return False, None
        if upload.attempts >= settings.max_attempts:
            return True, finish_fatal(self.svc, upload, self.worker_id, "PROCESSING_FAILED",
                                      f"Processing failed {upload.attempts} times")
        started = time.perf_counter()
        try:
            with self._lease(upload):
                status = process(self.svc, upload, self.worker_id)
            self.svc.metrics.observe_processing(upload.kind, status, upload.item_count,
                                                time.perf_counter() - started)
            return True, status
        except LostClaim:
            log.warning("upload %s was taken over by another worker", upload.ingestion_id)
            return True, None
        except Exception:
            log.exception("upload %s: processing failed; it will be retried", upload.ingestion_id)
            with self.svc.db.write() as conn:
                uploads.record_failure(conn, upload.ingestion_id, self.worker_id)
            return True, None

    @contextmanager
    def _lease(self, upload: Upload) -> Iterator[None]:
        """Renew the claim's lease in the background while the upload is processed."""
        done = threading.Event()
        period = self.svc.settings.lease_seconds / 3

        def renew() -> None:
            while not done.wait(period):
                with self.svc.db.write() as conn:
                    until = time.time() + self.svc.settings.lease_seconds
                    if not uploads.renew_lease(conn, upload.ingestion_id, self.worker_id, until):
                        return

        thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; idle waits end early when intake sets `svc.wake`."""
        release_local_dead_claims(self.svc)
        self.heartbeat(force=True)
        while not stop.is_set():
            try:
                self.heartbeat()
                if self.run_once() is None:
                    self.svc.wake.wait(self.svc.settings.poll_interval)
                    self.svc.wake.clear()
            except Exception:  # the database may be briefly unreachable: keep the worker alive
                log.exception("worker %s: loop error", self.worker_id)
                stop.wait(1.0)
        with self.svc.db.write() as conn:
            uploads.forget_worker(conn, self.worker_id)


def drain(svc: Runtime, worker: Worker | None = None) -> list[str]:
    """Process until nothing is claimable (tests and `worker --once`); the final statuses.

    A failed attempt does not stop the drain: the upload is claimable again at once and is
    retried until it ends DONE, or FATAL after `max_attempts`.
    """
    worker = worker or Worker(svc)
    done: list[str] = []
    while True:
        claimed, status = worker.step()
        if not claimed:
            return done
        if status is not None:
            done.append(status)
