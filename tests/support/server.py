"""A real `catalog-ingest serve` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`python -m catalog_ingest serve` with the given environment; start, kill -9, restart."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, "CATALOG_INGEST_DATA_DIR": str(data_dir), **(env or {})}
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "catalog_ingest", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling for readiness, not synchronisation of behaviour
        raise TimeoutError(f"server not ready: {self.log.read_text()[-3000:]}")

    def worker_pid(self) -> int:
        """The pid of serve's worker child process."""
        import psutil

        assert self.proc is not None
        children = psutil.Process(self.proc.pid).children()
        workers = [c.pid for c in children if "worker" in c.cmdline()]
        assert len(workers) == 1, [c.cmdline() for c in children]
        return workers[0]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
