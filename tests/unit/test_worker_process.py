"""serve's worker child: start-up handshake, a failed start, the wake-up pipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from catalog_ingest.cli.worker_process import WorkerProcess, WorkerStartFailed

READY = ("import os, sys; args = sys.argv; wake = int(args[args.index('--wake-fd') + 1]); "
         "ready = int(args[args.index('--ready-fd') + 1]); os.write(ready, b'r'); "
         "os.read(wake, 1); print('woken', flush=True)")


def child(tmp_path: Path, code: str) -> WorkerProcess:
    proc = WorkerProcess(data_dir=tmp_path, concurrency=1, listen_url="http://127.0.0.1:1",
                         log_format="console")
    proc.argv = [sys.executable, "-c", code]
    return proc


def test_a_child_that_exits_before_it_is_ready_fails_the_start(tmp_path: Path) -> None:
    proc = child(tmp_path, "raise SystemExit(3)")
    with pytest.raises(WorkerStartFailed):
        proc.start()
    assert proc.proc is not None and proc.proc.returncode == 3


def test_a_child_that_hangs_before_it_is_ready_is_stopped(tmp_path: Path) -> None:
    proc = child(tmp_path, "import time; time.sleep(600)")
    with pytest.raises(WorkerStartFailed):
        proc.start(timeout=0.5)
    assert proc.proc is not None and proc.proc.returncode is not None


def test_setting_the_wake_reaches_the_ready_child(tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    proc = child(tmp_path, READY)
    wake = proc.start()
    wake.set()
    assert proc.proc is not None and proc.proc.wait(30) == 0
    assert "woken" in capfd.readouterr().out
    proc.wait(0.0)
    with pytest.raises(OSError):
        os.fstat(wake.fd)  # the pipe is closed once the child is gone


def test_the_private_metrics_dirs_of_dead_serves_are_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # unset, and restored after the test
    from prometheus_client import values

    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    dead = tmp_path / "catalog-ingest-metrics-999999999"
    dead.mkdir()
    alive = tmp_path / f"catalog-ingest-metrics-{os.getppid()}"  # a live process's
    alive.mkdir()
    proc = child(tmp_path / "data", READY)
    proc.share_metrics(temp_dir=tmp_path)
    own = tmp_path / f"catalog-ingest-metrics-{os.getpid()}"
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(own) and own.is_dir()
    assert not dead.exists() and alive.exists()
    assert not (tmp_path / "data").exists()  # nothing memory-mapped on the data disk
    proc.wait(0.0)
    assert not own.exists()
