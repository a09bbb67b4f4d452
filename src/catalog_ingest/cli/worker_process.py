"""`serve`'s embedded worker as a child process: started, woken, stopped, and dying with serve.

A worker thread inside `serve` shared one interpreter (one GIL) with the requests: while it
planned an upload, an upload's own Python work got about half of it (`bench accept`: 201 p50
1.9x the bare ceiling with the worker busy, 1.4x with a worker process beside it). So `serve`
runs its worker as `catalog-ingest worker`, a child process, and keeps the parts that must
stay one system:

- **wake-up**: intake sets `svc.wake`; here that also writes a byte to a pipe whose other end
  the child reads, so an idle child starts within a millisecond, not a poll interval later;
- **death**: the child asks the kernel to SIGKILL it when `serve` dies (`PR_SET_PDEATHSIG`,
  Linux), and also ends when the pipe reaches end-of-file (any platform): a SIGKILLed serve
  leaves no worker behind, and the next start releases the dead child's claim at once;
- **priority**: the child runs `CATALOG_INGEST_WORKER_NICE` (10) lower, so a request that
  competes with processing for a core goes first;
- **stop**: SIGTERM (or Ctrl-C) of `serve` is passed on at once, so the child has the same
  grace period as the requests, and `serve` waits for it before exiting;
- **restart**: a child that exits otherwise (the OOM killer, a crash) is started again after
  a second, so `serve` never goes on accepting uploads that nothing processes;
- **metrics**: both processes keep their values in one prometheus-client multi-process
  directory (a private temporary one unless `PROMETHEUS_MULTIPROC_DIR` is set), so
  `/metrics` of `serve` still reports processing.

The child's side (the pipes, the death signal, the priority) is cli/worker_child.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

#: How long `serve` waits for the child to start (imports, migrations checked, claims released).
_START_TIMEOUT_SECONDS = 120.0
#: How long `serve` waits for the child beyond the shutdown grace before killing it.
_EXIT_MARGIN_SECONDS = 15.0
#: Before a child that exited unexpectedly is started again (no tight loop of failures).
_RESTART_DELAY_SECONDS = 1.0
_METRICS_PREFIX = "catalog-ingest-metrics-"
log = logging.getLogger(__name__)


class WorkerStartFailed(RuntimeError):
    """The worker child exited (or hung) before its workers ran."""


class PipeWake(threading.Event):
    """`svc.wake` of `serve`: setting it also wakes the worker child through a pipe."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending anyway
            os.write(self.fd, b"\0")


class WorkerProcess:
    """The `catalog-ingest worker` child of `serve`."""

    def __init__(self, *, data_dir: Path, concurrency: int, listen_url: str,
                 log_format: str) -> None:
        self.argv = [sys.executable, "-m", "catalog_ingest", "worker",
                     "--concurrency", str(concurrency), "--data-dir", str(data_dir),
                     "--log-format", log_format, "--listen-url", listen_url]
        self.proc: subprocess.Popen[bytes] | None = None
        self.wake: PipeWake | None = None
        self.metrics_dir: str | None = None
        self._wake_read: int | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def share_metrics(self, temp_dir: Path | None = None) -> None:
        """Keep this process's metrics in a prometheus-client multi-process directory the child
        reports to as well: the deployment's PROMETHEUS_MULTIPROC_DIR, else a private one,
        `catalog-ingest-metrics-<serve pid>` in the temporary directory (those of dead serves
        are removed here, as a SIGKILLed serve cannot). Not in the data dir: its files are
        memory-mapped, and a full data disk must give retry 500s, not a SIGBUS. Before the
        runtime is opened: only metrics made later use it."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return
        parent = temp_dir or Path(tempfile.gettempdir())
        for old in parent.glob(f"{_METRICS_PREFIX}*"):
            if not _alive(old.name.removeprefix(_METRICS_PREFIX)):
                shutil.rmtree(old, ignore_errors=True)
        own = parent / f"{_METRICS_PREFIX}{os.getpid()}"
        shutil.rmtree(own, ignore_errors=True)  # a dead process's, with a recycled pid
        own.mkdir(mode=0o700)
        self.metrics_dir = str(own)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        # prometheus-client chose its value class when the CLI imported it; choose again.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

    def start(self, timeout: float = _START_TIMEOUT_SECONDS) -> PipeWake:
        """Start the child and wait until its workers run; the wake-up to install as
        `svc.wake`. Raises WorkerStartFailed when the child exits or hangs first. From the
        main thread: the child's PR_SET_PDEATHSIG follows the thread that started it."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        self._wake_read = wake_read  # kept: a restarted child reads the same pipe
        self.wake = PipeWake(wake_write)
        self._spawn(timeout)
        threading.Thread(target=self._watch, name="worker-process", daemon=True).start()
        return self.wake

    def _spawn(self, timeout: float) -> None:
        assert self._wake_read is not None
        ready_read, ready_write = os.pipe()
        try:
            proc = subprocess.Popen(
                [*self.argv, "--wake-fd", str(self._wake_read), "--ready-fd", str(ready_write)],
                pass_fds=(self._wake_read, ready_write))
        finally:
            os.close(ready_write)
        with self._lock:
            self.proc = proc
            if self._stopping.is_set():  # serve began stopping meanwhile
                proc.send_signal(signal.SIGTERM)
        try:
            ready, _, _ = select.select([ready_read], [], [], timeout)
            started = bool(ready) and os.read(ready_read, 1) == b"r"
        finally:
            os.close(ready_read)
        if not started:
            _end(proc, 0.0)
            raise WorkerStartFailed("the worker process did not start (its log is above)")

    def _watch(self) -> None:
        """Start the child again when it exits unexpectedly (killed by the OOM killer, say):
        `serve` must not go on accepting uploads that nothing processes."""
        while True:
            proc = self.proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            log.error("the worker process exited (status %s): starting it again", code)
            if self._stopping.wait(_RESTART_DELAY_SECONDS):
                return
            try:
                self._spawn(_START_TIMEOUT_SECONDS)
            except WorkerStartFailed:
                log.exception("the worker process did not start again")

    def terminate(self) -> None:
        """Pass a stop on (idempotent): the child winds down within its grace period."""
        with self._lock:
            self._stopping.set()
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGTERM)

    def wait(self, grace: float) -> None:
        """Wait for the child to exit (killing it after the grace and a margin); close the pipe
        and remove the private metrics directory. Idempotent."""
        self.terminate()
        while True:
            with self._lock:
                proc = self.proc
            if proc is None:
                break
            _end(proc, grace + _EXIT_MARGIN_SECONDS)
            with self._lock:
                if self.proc is proc:  # not replaced by a restart in the meantime
                    break
        for fd in (self._wake_read, self.wake.fd if self.wake else None):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_read = None
        self.wake = None
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir = None


def _end(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout`; reaped either way."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
