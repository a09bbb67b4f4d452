"""`sustained` and `resync`: a 1M-item catalog sent by `catalog-ingest push` at 10 requests/s.

The catalog (the project's seeded generator: 4 stores, 1-3 barcodes per item, ~1% faulty) is
written once as JSON Lines under bench/out/. The push runs as a real command against a real
`catalog-ingest serve` (embedded default, the contract's 10 requests/s per retailer) on a
fresh data dir.

- `sustained`: first upload accepted → last upload DONE (the service's own `submittedAt` and
  `completedAt` from the reports) ≤ 1.3x (items ÷ the `process` ceiling rate), the rate of
  bench_process's raw ceiling (decode, check digits, one-transaction bulk upsert, report) for
  10k new items into its cached 1M-item store, measured again in this run. For reference the
  same raw pipeline is also run over exactly the uploads the push sent, in order, on a fresh
  database (a store growing from 0 to 1M items: a faster, stricter ceiling).
- `resync`: the same push again with ``--force`` (fresh Idempotency-Keys, so the service
  really processes the unchanged items); its processing rate (items ÷ the worker's busy time,
  see `timings`) ≥ 3x that of `sustained` (same definition), and in both runs the worker idle
  ≤ 5% of the run (quality.md: the push keeps it fed).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from bench.bench_process import (
    BASE_ITEMS,
    PRAGMAS,
    STORE,
    UPLOAD_ITEMS,
    Ceiling,
    ensure_base,
    raw_pipeline,
)
from bench.common import (
    OUT,
    BenchResult,
    Server,
    Target,
    Tenant,
    fresh_dir,
    median,
    provision_data_dir,
    run_push,
    serve_argv,
)
from bench.datagen import encode_body, generate
from catalog_ingest.client.push.chunking import ChunkPlanner
from catalog_ingest.client.push.mapping import IDENTITY
from catalog_ingest.client.push.options import PushObserver
from catalog_ingest.client.push.sources import inspect
from catalog_ingest.engine import processor

STORES = ("sus-store-1", "sus-store-2", "sus-store-3", "sus-store-4")
SEED = 2024
SUSTAINED_RATIO = 1.3
RESYNC_RATIO = 3.0
#: The most of a run (first POST → last DONE) the worker may wait for the push.
MAX_IDLE = 0.05
FULL, QUICK = 1_000_000, 200_000


def catalog(count: int) -> Path:
    """The JSON Lines catalog of ``count`` items (cached while its marker matches)."""
    path = OUT / f"sustained-{count}.jsonl"
    marker = OUT / f"sustained-{count}.marker"
    expected = json.dumps({"count": count, "seed": SEED, "stores": STORES, "version": 1})
    if path.exists() and marker.exists() and marker.read_text() == expected:
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as out:
        for start in range(0, count, 50_000):
            for item in generate(min(50_000, count - start), SEED + start, STORES, start=start):
                out.write(encoder.encode(item) + b"\n")
    marker.write_text(expected)
    return path


def ceiling(source: Path, data_dir: Path) -> tuple[float, int, int]:
    """The raw pipeline over the push's own chunks, in order, on a fresh database:
    (total seconds, uploads, items)."""
    import sqlite3

    provision_data_dir(data_dir, STORES)
    conn = sqlite3.connect(data_dir / "catalog.db", isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    total, uploads, items = 0.0, 0, 0
    planner = ChunkPlanner([inspect(source)], IDENTITY, PushObserver())
    for chunk in planner.chunks():
        started = time.perf_counter()
        with processor.gc_paused():
            raw_pipeline(conn, chunk.body, f"ceiling-{chunk.seq}")
        total += time.perf_counter() - started
        uploads, items = uploads + 1, items + chunk.item_count
    conn.close()
    return total, uploads, items


def process_ceiling(rounds: int) -> float:
    """Seconds per item of the `process` ceiling: 10k new items into the cached 1M-item store
    (bench_process's own base, bodies and raw pipeline), median of ``rounds`` after a warm-up."""
    base, _, _ = ensure_base(BASE_ITEMS)
    ceiling = Ceiling(base, "sustained-process-ceiling", gc_paused=True)
    try:
        for r in range(rounds + 1):
            items = generate(UPLOAD_ITEMS, 5000 + r, [STORE], start=2 * BASE_ITEMS + r * 10**5)
            ceiling(encode_body(items), r)
    finally:
        ceiling.close()
    return median(ceiling.times[1:]) / UPLOAD_ITEMS


def push(server: Server, tenant: Tenant, source: Path, work: Path, name: str,
         *extra: str) -> tuple[float, dict[str, Any]]:
    """Run `catalog-ingest push` as a user would, at the contract's 10 requests/s; (wall
    seconds, its --json summary with the peak RSS)."""
    elapsed, summary, rss = run_push(server, tenant, source, work, work / name, "--rate", "10",
                                     *extra)
    summary["peakRss"] = max(rss, default=0)
    return elapsed, summary


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def timings(results: Path) -> dict[str, float]:
    """From the saved reports: uploads, items, first submitted → last completed, and the
    worker's busy time. One worker processes the uploads one after the other in acceptance
    order, so its time on an upload is from the later of (the previous upload's completion,
    this one's submission) to this one's completion."""
    reports = [msgspec.json.decode(p.read_bytes()) for p in results.glob("0*.json")]
    reports.sort(key=lambda r: _when(r["completedAt"]))
    busy, previous = 0.0, 0.0
    for report in reports:
        done = _when(report["completedAt"])
        busy += done - max(previous, _when(report["submittedAt"]))
        previous = done
    first = min(_when(r["submittedAt"]) for r in reports)
    items = sum(r["summary"]["itemsReceived"] for r in reports)
    return {"uploads": len(reports), "items": items, "span": previous - first, "busy": busy}


def run(quick: bool = False) -> BenchResult:
    count = QUICK if quick else FULL
    result = BenchResult("sustained")
    source = catalog(count)
    work = fresh_dir("sustained")
    per_item = process_ceiling(4 if quick else 8)
    top, top_uploads, top_items = ceiling(source, work / "ceiling")
    result.row("catalog", f"{count:,} items in {len(STORES)} stores, JSON Lines, "
               f"{source.stat().st_size / 2**20:.0f} MiB")
    result.row("`process` ceiling rate (10k new items into a 1M-item store)",
               f"{1 / per_item:,.0f} items/s")
    result.row("raw pipeline over the very uploads pushed, store growing from 0",
               f"{top:.1f} s for {top_uploads} uploads, {top_items:,} items "
               f"({top_items / top:,.0f} items/s)")
    data_dir = work / "data"
    tenant = provision_data_dir(data_dir, STORES)
    env = {"CATALOG_INGEST_DATA_DIR": str(data_dir), "CATALOG_INGEST_RATE_LIMIT": "10/second"}
    with Server(serve_argv(), work / "serve.log", env=env) as server:
        wall, first = push(server, tenant, source, work, "first")
        sustained = timings(work / "first")
        wall_again, _ = push(server, tenant, source, work, "again", "--force")
        resync = timings(work / "again")
    allowed = sustained["items"] * per_item
    ratio = sustained["span"] / allowed
    result.row("sustained: items ÷ `process` ceiling rate (the target's base)",
               f"{allowed:.1f} s (the run took {sustained['span'] / top:.2f}x the growing-store "
               "pipeline)")
    _rows(result, "sustained", sustained, wall, first)
    _rows(result, "resync", resync, wall_again, None)
    result.targets.append(Target("sustained", f"{sustained['span']:.1f} s first POST → last "
                                 f"DONE", ratio, ratio <= SUSTAINED_RATIO))
    rate = sustained["items"] / sustained["busy"]
    resync_rate = resync["items"] / resync["busy"]
    idle = max(_idle(sustained), _idle(resync))
    result.targets.append(Target("resync", f"{resync_rate:,.0f} items/s processing "
                                 f"({resync_rate / rate:.1f}x sustained's {rate:,.0f}); worker "
                                 f"idle {_idle(sustained):.0%} / {_idle(resync):.0%} of the "
                                 "sustained / resync run", resync_rate / rate,
                                 resync_rate / rate >= RESYNC_RATIO and idle <= MAX_IDLE))
    result.notes.append(
        f"sustained target: first POST → last DONE ≤ {SUSTAINED_RATIO}x (items ÷ the `process` "
        "ceiling rate) (the ratio printed); resync target: processing rate ≥ "
        f"{RESYNC_RATIO}x sustained's (the ratio printed is resync ÷ sustained, higher is "
        f"better) and the worker idle ≤ {MAX_IDLE:.0%} of either run (the push keeps it fed). "
        "Times are the service's own report timestamps; the push runs as a separate "
        "process at --rate 10 against the contract's 10 requests/s limit"
        + (" (quick: 200k items)." if quick else "."))
    return result


def _idle(timing: dict[str, float]) -> float:
    """The share of the run (first POST → last DONE) the worker waited for uploads."""
    return (timing["span"] - timing["busy"]) / timing["span"] if timing["span"] else 0.0


def _rows(result: BenchResult, name: str, timing: dict[str, float], wall: float,
          summary: dict[str, Any] | None) -> None:
    result.row(f"{name}: uploads, items sent",
               f"{timing['uploads']:.0f}, {timing['items']:,.0f}")
    result.row(f"{name}: first POST → last DONE",
               f"{timing['span']:.1f} s ({timing['items'] / timing['span']:,.0f} items/s)")
    result.row(f"{name}: worker busy time (processing only)",
               f"{timing['busy']:.1f} s ({timing['items'] / timing['busy']:,.0f} items/s)")
    result.row(f"{name}: worker idle, waiting for uploads (the push not keeping up)",
               f"{timing['span'] - timing['busy']:.1f} s ({_idle(timing):.0%} of the run)")
    result.row(f"{name}: `catalog-ingest push` wall time (read, validate, upload, wait, "
               "reports)", f"{wall:.1f} s")
    if summary is not None:
        result.row(f"{name}: `catalog-ingest push` peak RSS",
                   f"{summary['peakRss'] / 2**20:.0f} MiB")
        totals = summary["totals"]
        result.row(f"{name}: created / invalid (caught locally)",
                   f"{totals['created']:,} / {totals['invalid']:,}")
