"""`memory`: peak RSS of `serve` (with its worker) processing 10k-item uploads back to back.

RSS is the serve process plus its children, sampled every 50 ms in a thread. The client keeps
two uploads unfinished at any time (one processing, one queued), so the worker never idles;
each upload is 10k new items, so the catalog grows by 10k items per upload (1M after 100).
"Flat" compares the highest RSS while the first 20% of uploads were processed with the highest
while the last 20% were: growth ≤ 10% passes. There is no ceiling: the ratio printed is of the
400 MiB limit.
"""

from __future__ import annotations

import shutil
import time
from collections import deque

import httpx

from bench.common import (
    OUT,
    BenchResult,
    RssSampler,
    Server,
    Target,
    Tenant,
    fresh_dir,
    provision_data_dir,
    serve_argv,
    sign,
)
from bench.datagen import encode_body, generate

STORES = ["store-0001", "store-0002", "store-0003", "store-0004"]
LIMIT_MIB = 400.0
MAX_GROWTH = 0.10
IN_FLIGHT = 2
MiB = 2**20


class Client:
    def __init__(self, base_url: str, tenant: Tenant) -> None:
        self.base_url = base_url
        self.tenant = tenant
        self.http = httpx.Client(timeout=120)

    def post(self, operation: str, body: bytes) -> dict[str, str]:
        url = f"{self.base_url}/v1/catalog/{operation}"
        response = self.http.post(url, content=body, headers=sign(url, body, self.tenant))
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{operation}: {response.status_code} {response.text[:300]}")
        answer: dict[str, str] = response.json()
        return answer

    def wait_done(self, ingestion_id: str, timeout: float = 300.0) -> None:
        body = b'{"ingestionId":"%s"}' % ingestion_id.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.post("getCatalogUploadStatus", body)["processingStatus"]
            if status == "DONE":
                return
            if status not in ("INQUEUE", "INPROGRESS"):
                raise RuntimeError(f"upload {ingestion_id} ended {status}")
            time.sleep(0.05)  # status polling interval
        raise TimeoutError(f"upload {ingestion_id} not DONE after {timeout} s")


def _save_samples(sampler: RssSampler, sent: list[float], done: list[float]) -> None:
    """The RSS curve with upload numbers, for a look at its shape (bench/out/logs/)."""
    t0 = sampler.samples[0][0]
    lines = ["seconds,rss_mib,uploads_sent,uploads_done"]
    for t, rss in sampler.samples:
        lines.append(f"{t - t0:.2f},{rss / MiB:.1f},{sum(1 for s in sent if s <= t)},"
                     f"{sum(1 for d in done if d <= t)}")
    (OUT / "logs" / "memory-rss.csv").write_text("\n".join(lines) + "\n")


def run(quick: bool = False) -> BenchResult:
    uploads = 20 if quick else 100
    result = BenchResult("memory")
    data = fresh_dir("memory")
    tenant = provision_data_dir(data, STORES)
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sent: list[float] = []
    done: list[float] = []
    with Server(serve_argv(), logs / "memory-serve.log",
                env={"CATALOG_INGEST_DATA_DIR": str(data)}) as server:
        assert server.proc is not None
        sampler = RssSampler(server.proc.pid)
        idle = sampler.rss()
        sampler.start()
        client = Client(server.url, tenant)
        pending: deque[str] = deque()
        started = time.monotonic()
        for n in range(uploads):
            body = encode_body(generate(10_000, 5000 + n, STORES, start=n * 10_000))
            while len(pending) >= IN_FLIGHT:
                client.wait_done(pending.popleft())
                done.append(time.monotonic())
            sent.append(time.monotonic())
            pending.append(client.post("upload", body)["ingestionId"])
        while pending:
            client.wait_done(pending.popleft())
            done.append(time.monotonic())
        elapsed = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        client.http.close()
    shutil.rmtree(data, ignore_errors=True)

    _save_samples(sampler, sent, done)
    k = max(1, uploads // 5)
    first = sampler.peak(sent[0], done[k - 1])
    last = sampler.peak(sent[uploads - k], done[-1])
    peak = max(rss for _, rss in sampler.samples)
    growth = last / first - 1
    result.row("uploads", f"{uploads} x 10,000 new items ({uploads * 10_000:,} items at the end), "
               f"{IN_FLIGHT} unfinished at a time, {len(sampler.samples)} RSS samples")
    result.row("RSS idle (after start)", f"{idle / MiB:.0f} MiB")
    result.row(f"peak RSS, first {k} uploads / last {k} uploads",
               f"{first / MiB:.0f} MiB / {last / MiB:.0f} MiB ({growth:+.1%})")
    result.row("peak RSS overall", f"{peak / MiB:.0f} MiB")
    result.row("throughput (send → all DONE)", f"{uploads * 10_000 / elapsed:,.0f} items/s, "
               f"{elapsed:.1f} s")
    passed = peak / MiB <= LIMIT_MIB and growth <= MAX_GROWTH
    figure = f"peak {peak / MiB:.0f} MiB, growth {growth:+.1%} first→last {k} uploads"
    result.targets.append(Target("memory", figure, peak / MiB / LIMIT_MIB, passed))
    result.notes.append(f"memory target: peak ≤ {LIMIT_MIB:.0f} MiB and growth ≤ "
                        f"{MAX_GROWTH:.0%}; the ratio printed is of the {LIMIT_MIB:.0f} MiB limit.")
    return result
