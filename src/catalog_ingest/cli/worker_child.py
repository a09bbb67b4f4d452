"""The child side of `serve`'s worker process: die with serve, wake on its pipe, yield the CPU.

`catalog-ingest worker` started by `serve` (cli/worker_process.py) gets two pipe ends: bytes
on the first are wake-ups, its end-of-file means `serve` is gone; the second is closed after
one byte once the workers run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

#: Linux's prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


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
