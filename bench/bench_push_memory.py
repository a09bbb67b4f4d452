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
import sys
from pathlib import Path
from typing import Any

from bench.bench_sustained import STORES, catalog
from bench.common import (
    BenchResult,
    Server,
    Target,
    Tenant,
    fresh_dir,
    provision_data_dir,
    run_push,
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
    elapsed, summary, rss = run_push(server, tenant, source, work, work / "results",
                                     "--wait" if wait else "--no-wait",
                                     expect="DONE" if wait else "SUBMITTED")
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


def run(quick: bool = False, wait: bool = True,
        sizes: tuple[int, ...] | None = None) -> BenchResult:
    """Both sizes (the targets); ``sizes`` of one item count measures that one only."""
    sizes = sizes or (QUICK if quick else FULL)
    result = BenchResult("push-memory")
    figures = {count: measure(count, wait) for count in sizes}
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
    small, large = sizes[0], sizes[-1]
    peak_small = figures[small]["peakRss"] / MIB
    peak_large = figures[large]["peakRss"] / MIB
    growth = peak_large / peak_small - 1
    result.targets.append(Target("push-memory", f"peak {peak_small:.0f} MiB at {small:,} items",
                                 peak_small / LIMIT_MIB, peak_small <= LIMIT_MIB))
    if large == small:
        return result
    result.targets.append(Target("push-memory", f"peak {peak_large:.0f} MiB at {large:,} items, "
                                 f"{growth:+.1%} of the {small:,} peak",
                                 peak_large / (peak_small * (1 + GROWTH)),
                                 growth <= GROWTH))
    result.notes.append(
        f"push-memory target: peak ≤ {LIMIT_MIB:.0f} MiB at {small:,} items (ratio: of "
        f"{LIMIT_MIB:.0f} MiB) and ≤ +{GROWTH:.0%} at {large:,} (ratio: of 1.1x the first "
        "peak). RSS of the push process sampled every 0.2 s. The delta, validation and "
        "waiting state live in the push's scratch SQLite files and the tracking database, "
        "not in memory" + (" (quick: 200k / 400k items)." if quick else "."))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_push_memory",
                                     description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200k and 400k items")
    parser.add_argument("--no-wait", action="store_true",
                        help="push --no-wait to serve --no-worker (no processing)")
    parser.add_argument("--items", type=int, nargs="+", metavar="N",
                        help="item counts to push (default 1M and 2M; the growth target "
                        "compares the first with the last)")
    args = parser.parse_args(argv)
    result = run(args.quick, wait=not args.no_wait,
                 sizes=tuple(args.items) if args.items else None)
    print(result.table(), *result.notes, "", sep="\n")
    for target in result.targets:
        print(target.line())
    return 0 if all(t.passed for t in result.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
