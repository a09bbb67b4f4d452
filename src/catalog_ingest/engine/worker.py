"""The worker loop: claim uploads in order, keep the claim alive, process, recover from deaths."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from catalog_ingest.engine.processor import Interrupted, LostClaim, finish_fatal, process
from catalog_ingest.engine.retention import RetentionPass
from catalog_ingest.errors import TransientError
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
    """One sequential worker; run several (threads or processes) for throughput.

    `stop` (given to `run`) means: claim nothing more. `abort` means: the shutdown grace is
    over, give the current upload's claim back (its work rolls back) instead of finishing it.
    """

    def __init__(self, svc: Runtime, worker_id: str | None = None, *,
                 abort: threading.Event | None = None) -> None:
        self.svc = svc
        self.worker_id = worker_id or new_worker_id()
        self.abort = abort or threading.Event()
        self.retention = RetentionPass(svc)
        self._last_heartbeat = 0.0
        #: Claims a transient failure kept us from giving back; retried every loop.
        self._unreleased: list[str] = []
        #: Whether the last attempt failed transiently (database or blob store away).
        self.transient = False

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
        self.transient = False
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
                status = process(self.svc, upload, self.worker_id, self.abort.is_set)
            self.svc.metrics.observe_processing(upload.kind, status, upload.item_count,
                                                time.perf_counter() - started)
            return True, status
        except LostClaim:
            log.warning("upload %s was taken over by another worker", upload.ingestion_id)
            return True, None
        except Interrupted:
            self._release(upload.ingestion_id, "shutdown grace period over")
            return True, None
        except TransientError as exc:
            # Not the upload's fault: no attempt counted, so a full disk or a database restart
            # can never turn an upload FATAL; it is taken up again once things are back.
            log.warning("upload %s: %s; it will be taken up again", upload.ingestion_id, exc)
            self.transient = True
            self._release(upload.ingestion_id, str(exc))
            return True, None
        except Exception:
            log.exception("upload %s: processing failed; it will be retried", upload.ingestion_id)
            with self.svc.db.write() as conn:
                uploads.record_failure(conn, upload.ingestion_id, self.worker_id)
            return True, None

    def _release(self, ingestion_id: str, why: str) -> None:
        try:
            with self.svc.db.write() as conn:
                uploads.release_claim(conn, ingestion_id, self.worker_id, why)
        except TransientError:
            self._unreleased.append(ingestion_id)  # the database is away: once it is back

    def _release_pending(self) -> None:
        while self._unreleased:
            with self.svc.db.write() as conn:
                uploads.release_claim(conn, self._unreleased[0], self.worker_id,
                                      "released after an outage")
            self._unreleased.pop(0)

    @contextmanager
    def _lease(self, upload: Upload) -> Iterator[None]:
        """Renew the claim's lease, and the worker's heartbeat, in the background while the
        upload is processed (a worker busy on one long upload stays counted as live)."""
        done = threading.Event()
        period = min(self.svc.settings.lease_seconds / 3, HEARTBEAT_SECONDS)

        def renew() -> None:
            while not done.wait(period):
                try:
                    with self.svc.db.write() as conn:
                        now = time.time()
                        until = now + self.svc.settings.lease_seconds
                        if not uploads.renew_lease(conn, upload.ingestion_id, self.worker_id,
                                                   until):
                            return
                        uploads.heartbeat(conn, self.worker_id, now)
                except TransientError:  # the database is away: try again next period
                    log.warning("upload %s: lease renewal failed", upload.ingestion_id)

        thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; idle waits end early when intake sets `svc.wake`.

        When idle, the worker runs retention (small batches, cut short by new work).
        """
        self._guarded(lambda: release_local_dead_claims(self.svc), stop)
        while not stop.is_set():
            self._guarded(lambda: self._loop_once(stop), stop)
        self._guarded(self._forget, None)

    def _loop_once(self, stop: threading.Event) -> None:
        self._release_pending()
        self.heartbeat()
        claimed, status = self.step()
        if self.transient:
            stop.wait(1.0)  # back off while the database, the disk or the blob store is away
        elif not claimed:
            self.retention.maybe_run()
        if status is None and not stop.is_set():
            self.svc.wake.wait(self.svc.settings.poll_interval)
            self.svc.wake.clear()

    def _forget(self) -> None:
        with self.svc.db.write() as conn:
            uploads.forget_worker(conn, self.worker_id)

    def _guarded(self, action: Callable[[], object], stop: threading.Event | None) -> None:
        try:
            action()
        except Exception:  # the database may be briefly unreachable: keep the worker alive
            log.exception("worker %s: loop error", self.worker_id)
            if stop is not None:
                stop.wait(1.0)


def drain(svc: Runtime, worker: Worker | None = None) -> list[str]:
    """Process until nothing is claimable (tests and `worker --once`); the final statuses.

    A failed attempt does not stop the drain: the upload is claimable again at once and is
    retried until it ends DONE, or FATAL after `max_attempts`.
    """
    worker = worker or Worker(svc)
    done: list[str] = []
    while True:
        claimed, status = worker.step()
        if worker.transient:
            raise TransientError("the database or the blob store is unavailable")
        if not claimed:
            return done
        if status is not None:
            done.append(status)
