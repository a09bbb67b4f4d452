"""What the benchmarks share: results and targets, machine facts, signing, server processes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT = BENCH_DIR / "out"  # gitignored: data dirs, the cached 1M-item catalog
#: The rate limit is lifted in benchmark servers: back-to-back uploads would otherwise be
#: throttled (429) at 10/s; the limiter still runs on every request.
BENCH_ENV = {"CATALOG_INGEST_RATE_LIMIT": "1000000/second"}


@dataclass
class Target:
    name: str
    figure: str
    ratio: float  # of the ceiling (or of the limit where a target has no ceiling)
    passed: bool

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return f"TARGET {self.name}: {self.figure} ({self.ratio:.2f}x of ceiling) {verdict}"


@dataclass
class BenchResult:
    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def table(self) -> str:
        width = max([len(label) for label, _ in self.rows] + [len(self.name) + 2])
        lines = [f"| {'`' + self.name + '`':{width}} | figure |", f"| {'-' * width} | --- |"]
        lines += [f"| {label:{width}} | {value} |" for label, value in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def git_commit() -> str:
    """The commit the working tree is based on, with `+dirty` when it has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
            f"{ram:.1f} GiB RAM, Python {platform.python_version()}, {platform.system()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_dir(name: str) -> Path:
    path = OUT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class Tenant:
    retailer_id: str
    stores: list[str]
    key: str
    secret: str


def provision(svc: Runtime, name: str, stores: Sequence[str]) -> Tenant:
    with svc.db.write() as conn:
        retailer_id = admin.create_retailer(conn, name)
        for store in stores:
            admin.add_store(conn, retailer_id, store)
        key, secret = admin.create_key(conn, svc.settings.secret_key, retailer_id)
    return Tenant(retailer_id, list(stores), key, secret)


def provision_data_dir(data_dir: Path, stores: Sequence[str]) -> Tenant:
    """A migrated embedded-default data dir with one retailer owning `stores`."""
    svc = open_runtime(Settings(data_dir=data_dir))
    try:
        return provision(svc, "Bench Retailer", stores)
    finally:
        svc.close()


def sign(url: str, body: bytes, tenant: Tenant, region: str = "us-east-1") -> dict[str, str]:
    """SigV4 headers made by botocore (the reference signer), content-type signed too."""
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"content-type": "application/json"})
    SigV4Auth(Credentials(tenant.key, tenant.secret), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


class Server:
    """A server subprocess on a free loopback port, ready once `ready_path` answers 200."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None,
                 ready_path: str = "/healthz") -> None:
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.log = log
        self.env = {**os.environ, **BENCH_ENV, **(env or {})}
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # readiness polling
        self.__exit__()
        raise TimeoutError(f"server not ready: {self.log.read_text()[-2000:]}")

    def __exit__(self, *_: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_argv(*extra: str) -> list[str]:
    """`catalog-ingest serve` on the placeholder port, embedded default (SQLite + folder)."""
    return [sys.executable, "-m", "catalog_ingest", "serve", "--host", "127.0.0.1",
            "--port", "{port}", *extra]


class RssSampler(threading.Thread):
    """Samples the RSS of a process plus its children every `period` seconds."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.period = period
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def rss(self) -> int:
        import psutil

        total = 0
        for proc in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.rss()))
            except psutil.NoSuchProcess:  # the process ended between two samples
                return
            self.stop.wait(self.period)

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def run_push(server: Server, tenant: Tenant, source: Path, work: Path, results: Path,
             *extra: str, expect: str = "DONE") -> tuple[float, dict[str, Any], list[int]]:
    """`catalog-ingest push SOURCE` as a user runs it (a separate process, credentials in its
    environment, no other AWS_ or CATALOG_INGEST_ variable); (wall seconds, its --json summary,
    its RSS samples every 0.2 s). Raises unless it ends `expect` with no failed chunk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CATALOG_INGEST_"))}
    env.update({"AWS_ACCESS_KEY_ID": tenant.key, "AWS_SECRET_ACCESS_KEY": tenant.secret,
                "XDG_DATA_HOME": str(work / "xdg")})
    argv = [sys.executable, "-m", "catalog_ingest", "push", str(source), "--endpoint",
            server.url, "--tracking-db", str(work / "tracking.db"), "--results-dir",
            str(results), "--json", "--no-progress", *extra]
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    sampler = RssSampler(process.pid, period=0.2)
    sampler.start()
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if not stdout:
        raise RuntimeError(f"push failed: {stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(stdout)
    if summary["status"] != expect or summary["chunkFailures"]:
        raise RuntimeError(f"push did not complete: {stdout[:2000]}")
    return elapsed, summary, [rss for _, rss in sampler.samples]
