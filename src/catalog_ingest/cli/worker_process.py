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
- **metrics**: both processes keep their values in one prometheus-client multi-process
  directory (a private temporary one unless `PROMETHEUS_MULTIPROC_DIR` is set), so `/metrics`
  of `serve` still reports processing.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

#: Linux's prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
#: How long `serve` waits for the child to start (imports, migrations checked, claims released).
_START_TIMEOUT_SECONDS = 120.0
#: How long `serve` waits for the child beyond the shutdown grace before killing it.
_EXIT_MARGIN_SECONDS = 15.0


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
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.wake: PipeWake | None = None
        self.metrics_dir: str | None = None

    def share_metrics(self) -> None:
        """Keep this process's metrics in a prometheus-client multi-process directory the child
        reports to as well: the deployment's PROMETHEUS_MULTIPROC_DIR, else a private one in
        the data dir (`metrics/serve-<pid>`; those of dead serves are removed here, as a
        SIGKILLed serve cannot). Before the runtime is opened: only later metrics use it."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return
        parent = self.data_dir / "metrics"
        parent.mkdir(parents=True, exist_ok=True)
        for old in parent.glob("serve-*"):
            if not _alive(old.name.removeprefix("serve-")):
                shutil.rmtree(old, ignore_errors=True)
        own = parent / f"serve-{os.getpid()}"
        own.mkdir(exist_ok=True)
        self.metrics_dir = str(own)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        # prometheus-client chose its value class when the CLI imported it; choose again.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

    def start(self, timeout: float = _START_TIMEOUT_SECONDS) -> PipeWake:
        """Start the child and wait until its workers run; the wake-up to install as
        `svc.wake`. Raises WorkerStartFailed when the child exits or hangs first."""
        wake_read, wake_write = os.pipe()
        ready_read, ready_write = os.pipe()
        os.set_blocking(wake_write, False)
        try:
            self.proc = subprocess.Popen(
                [*self.argv, "--wake-fd", str(wake_read), "--ready-fd", str(ready_write)],
                pass_fds=(wake_read, ready_write))
        finally:
            os.close(wake_read)
            os.close(ready_write)
        self.wake = PipeWake(wake_write)
        try:
            ready, _, _ = select.select([ready_read], [], [], timeout)
            if not ready or not os.read(ready_read, 1):
                self.wait(0.0)
                raise WorkerStartFailed("the worker process did not start (its log is above)")
        finally:
            os.close(ready_read)
        return self.wake

    def terminate(self) -> None:
        """Pass a stop on (idempotent): the child winds down within its grace period."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def wait(self, grace: float) -> None:
        """Wait for the child to exit (killing it after the grace and a margin); close the pipe
        and remove the private metrics directory. Idempotent."""
        if self.proc is not None:
            self.terminate()
            try:
                self.proc.wait(timeout=grace + _EXIT_MARGIN_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.wake is not None:
            os.close(self.wake.fd)
            self.wake = None
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir = None


def watch_parent(wake_fd: int, wake: threading.Event) -> None:
    """In the child: die with the parent, and turn the pipe's bytes into `wake` sets."""
    _die_with_parent()

    def read() -> None:
        while True:
            try:
                data = os.read(wake_fd, 4096)
            except InterruptedError:
                continue
            if not data:  # the parent is gone (or closed the pipe after this child's stop)
                os.kill(os.getpid(), signal.SIGKILL)
                return
            wake.set()

    threading.Thread(target=read, name="wake-pipe", daemon=True).start()


def lower_priority(increment: int) -> None:
    """In the child: yield the CPU to `serve`'s requests when both want the same core (the
    201 waits on them; processing is asynchronous anyway). Where `os.nice` exists."""
    if increment > 0 and hasattr(os, "nice"):
        os.nice(increment)


def report_ready(ready_fd: int) -> None:
    """In the child: tell `serve` the workers run."""
    os.write(ready_fd, b"r")
    os.close(ready_fd)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # A parent that died before this took effect is seen by the pipe's end-of-file instead.


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
