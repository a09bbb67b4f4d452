"""`push-memory`: peak RSS of `catalog-ingest push` over a 1M-item and a 2M-item file.

The catalogs are the project's seeded generator's (bench_sustained's JSON Lines files: 4 stores,
1-3 barcodes per item, ~1% faulty), cached under bench/out/. Each push runs as a real command
(default options: validate, chunk, upload at --rate 10, wait by polling, download every report)
against a real `catalog-ingest serve` (embedded default, fresh data dir), its RSS (with any
children) sampled every 0.2 s. Target (quality.md): peak ≤ 150 MiB at 1M and the 2M peak
within +10% of the 1M one: the push's memory must not grow with the catalog.

`python -m bench.bench_push_memory --no-wait` measures the same pushes with `--no-wait`
against `serve --no-worker` (read, validate, chunk, upload; no processing, no reports): much
faster on a loaded machine, and the same planning and sending code.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.bench_sustained import STORES, catalog
from bench.common import (
    BenchResult,
    RssSampler,
    Server,
    Target,
    Tenant,
    fresh_dir,
    provision_data_dir,
    serve_argv,
)

LIMIT_MIB = 150.0
GROWTH = 0.10
FULL = (1_000_000, 2_000_000)
QUICK = (200_000, 400_000)
MIB = 2**20


def push(server: Server, tenant: Tenant, source: Path, work: Path, wait: bool
         ) -> dict[str, Any]:
    """One `catalog-ingest push` as a user runs it; its --json summary plus RSS figures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CATALOG_INGEST_"))}
    env.update({"AWS_ACCESS_KEY_ID": tenant.key, "AWS_SECRET_ACCESS_KEY": tenant.secret,
                "XDG_DATA_HOME": str(work / "xdg")})
    argv = [sys.executable, "-m", "catalog_ingest", "push", str(source), "--endpoint",
            server.url, "--tracking-db", str(work / "tracking.db"), "--results-dir",
            str(work / "results"), "--json", "--no-progress",
            "--wait" if wait else "--no-wait"]
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
    expected = "DONE" if wait else "SUBMITTED"
    if summary["status"] != expected or summary["chunkFailures"]:
        raise RuntimeError(f"push did not complete: {stdout[:2000]}")
    rss = [value for _, value in sampler.samples]
    summary["peakRss"] = max(rss, default=0)
    summary["rssAtHalf"] = rss[len(rss) // 2] if rss else 0
    summary["wall"] = elapsed
    return summary


def measure(count: int, wait: bool) -> dict[str, Any]:
    source = catalog(count)
    work = fresh_dir(f"push-memory-{count}")
    data_dir = work / "data"
    tenant = provision_data_dir(data_dir, STORES)
    env = {"CATALOG_INGEST_DATA_DIR": str(data_dir)}
    argv = serve_argv() if wait else serve_argv("--no-worker")
    with Server(argv, work / "serve.log", env=env) as server:
        summary = push(server, tenant, source, work, wait)
    summary["sourceBytes"] = source.stat().st_size
    return summary


def run(quick: bool = False, wait: bool = True) -> BenchResult:
    small, large = QUICK if quick else FULL
    result = BenchResult("push-memory")
    figures = {count: measure(count, wait) for count in (small, large)}
    mode = "--wait (poll, every report downloaded)" if wait else "--no-wait, serve --no-worker"
    result.row("push", f"`catalog-ingest push FILE --json --no-progress` {mode}, --rate 10")
    for count, summary in figures.items():
        totals = summary["totals"]
        result.row(f"{count:,} items: file, uploads, items sent",
                   f"{summary['sourceBytes'] / MIB:.0f} MiB JSON Lines, "
                   f"{summary['chunks']['accepted']}, {totals['sent']:,}")
        result.row(f"{count:,} items: push wall time",
                   f"{summary['wall']:.1f} s ({count / summary['wall']:,.0f} items/s)")
        result.row(f"{count:,} items: RSS half-way / peak",
                   f"{summary['rssAtHalf'] / MIB:.0f} MiB / {summary['peakRss'] / MIB:.0f} MiB")
    peak_small = figures[small]["peakRss"] / MIB
    peak_large = figures[large]["peakRss"] / MIB
    growth = peak_large / peak_small - 1
    result.targets.append(Target("push-memory", f"peak {peak_small:.0f} MiB at {small:,} items",
                                 peak_small / LIMIT_MIB, peak_small <= LIMIT_MIB))
    result.targets.append(Target("push-memory", f"peak {peak_large:.0f} MiB at {large:,} items, "
                                 f"{growth:+.1%} of the {small:,} peak",
                                 peak_large / (peak_small * (1 + GROWTH)),
                                 growth <= GROWTH))
    result.notes.append(
        f"push-memory target: peak ≤ {LIMIT_MIB:.0f} MiB at {small:,} items (ratio: of "
        f"{LIMIT_MIB:.0f} MiB) and ≤ +{GROWTH:.0%} at {large:,} (ratio: of 1.1x the first "
        "peak). RSS of the push process sampled every 0.2 s. The delta, validation and "
        "waiting state live in the push's scratch SQLite file and the tracking database, "
        "not in memory" + (" (quick: 200k / 400k items)." if quick else "."))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_push_memory",
                                     description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200k and 400k items")
    parser.add_argument("--no-wait", action="store_true",
                        help="push --no-wait to serve --no-worker (no processing)")
    args = parser.parse_args(argv)
    result = run(args.quick, wait=not args.no_wait)
    print(result.table(), *result.notes, "", sep="\n")
    for target in result.targets:
        print(target.line())
    return 0 if all(t.passed for t in result.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
