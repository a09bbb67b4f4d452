"""`python -m bench [NAME ...] [--quick] [--record]`: run benchmarks, print, optionally record.

Prints each benchmark's table, then one `TARGET <name>: ... PASS|FAIL` line per target; exits 1
when a target fails. `--record` appends the run (date, commit, machine, tables) to
bench/RESULTS.md; `--quick` runs fewer rounds (for trying things out, not for the record).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench import (
    bench_accept,
    bench_memory,
    bench_mmc,
    bench_poll,
    bench_portal,
    bench_process,
    bench_push_memory,
    bench_sustained,
    bench_workers,
)
from bench.common import BENCH_DIR, BenchResult, git_commit, machine

BENCHMARKS: dict[str, Callable[[bool], BenchResult]] = {
    "accept": bench_accept.run,
    "process": bench_process.run,
    "memory": bench_memory.run,
    "sustained": bench_sustained.run,  # also the `resync` target
    "mmc": bench_mmc.run,  # status p50, rejection report, listCatalogItems steadiness
    "push-memory": bench_push_memory.run,
    "poll": bench_poll.run,  # signed getCatalogUploadStatus req/s vs bare uvicorn
    "workers": bench_workers.run,  # PostgreSQL: 2 worker processes vs 1, one retailer
    "postgres": bench_workers.run_postgres,  # process and sustained, PostgreSQL vs SQLite
    "portal": bench_portal.run,  # upload check vs validate; catalog pages on a 1M store
}
RESULTS = BENCH_DIR / "RESULTS.md"


def record(results: list[BenchResult], quick: bool, elapsed: float) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when} — commit {git_commit()}", "",
        f"- machine: {machine()}",
        f"- run: `python -m bench {' '.join(r.name for r in results)}`"
        f"{' --quick' if quick else ''}, {elapsed:.0f} s",
        "- the machine is shared with other jobs (test runs of other work in progress), so "
        "absolute figures are noisy; the ratios compare with ceilings measured in the same run.",
        "",
    ]
    for result in results:
        lines += [result.table(), ""]
        lines += [f"- {note}" for note in result.notes]
        lines.append("")
    lines += ["```", *(t.line() for r in results for t in r.targets), "```", "", ""]
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (not for the record)")
    parser.add_argument("--record", action="store_true", help="append the run to RESULTS.md")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(BENCHMARKS)}")
    names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    started = time.monotonic()
    results = []
    for name in names:
        print(f"running {name}{' (quick)' if args.quick else ''} ...", flush=True)
        result = BENCHMARKS[name](args.quick)
        print(result.table(), *result.notes, "", sep="\n", flush=True)
        results.append(result)
    elapsed = time.monotonic() - started
    targets = [t for r in results for t in r.targets]
    for target in targets:
        print(target.line())
    if args.record:
        record(results, args.quick, elapsed)
        print(f"recorded in {RESULTS.relative_to(BENCH_DIR.parent)}")
    return 0 if all(t.passed for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
