"""`make soak`: the reliability tests at soak sizes, one line per figure (not collected by pytest).

    python -m tests.soak [--trials 200] [--oracle 1000] [--fuzz-cases 10000] [--fault-scale 5]
                         [--record docs/operations.md]

Each part runs the suite's own test with a larger size through its environment variable,
and prints `SOAK <name>: <figures> PASS|FAIL`. `--record` writes the run (date, commit, the
lines) between the soak markers of docs/operations.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ_MODES = 2  # positive and negative generation
FUZZ_OPERATIONS = 4


@dataclass
class Part:
    name: str
    tests: list[str]
    env: dict[str, str]
    figure: Callable[[str], str]


def _lines(output: str, prefix: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith(prefix)]


def durability(output: str) -> str:
    found = _lines(output, "crash:")
    return found[-1].removeprefix("crash: ") if found else "no summary line"


def oracle(output: str) -> str:
    found = _lines(output, "oracle-crashes:")
    return found[-1].removeprefix("oracle-crashes: ") if found else "no summary line"


def fuzz(output: str) -> str:
    cases = sum(int(m.group(1)) for m in re.finditer(r": (\d+) cases, statuses", output))
    return (f"{cases:,} signed cases over {FUZZ_OPERATIONS} operations (any 5xx or answer "
            "outside the documented statuses and schemas fails the run)")


def faults(output: str) -> str:
    found = [line.removeprefix("fault: ") for line in _lines(output, "fault:")]
    return "; ".join(found) if found else "no summary line"


def parts(args: argparse.Namespace) -> list[Part]:
    per_mode = max(1, args.fuzz_cases // (FUZZ_OPERATIONS * FUZZ_MODES))
    return [
        Part("durability", ["tests/e2e/test_crash.py"],
             {"CATALOG_INGEST_CI_TRIALS": str(args.trials)}, durability),
        Part("exactly-once", ["tests/ops/test_oracle_crashes.py"],
             {"CATALOG_INGEST_ORACLE_CRASH_TRIALS": str(args.oracle)}, oracle),
        Part("fuzz", ["tests/api/test_fuzz.py"],
             {"CATALOG_INGEST_FUZZ_EXAMPLES": str(per_mode)}, fuzz),
        Part("faults", ["tests/ops/test_faults.py"],
             {"CATALOG_INGEST_FAULT_SCALE": str(args.fault_scale)}, faults),
    ]


def run(part: Part) -> str:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *part.tests, "-q", "-s", "-p", "no:cacheprovider",
         "-o", "addopts=", "--timeout=0"],
        cwd=ROOT, env={**os.environ, **part.env}, capture_output=True, text=True)
    output = done.stdout + done.stderr
    verdict = "PASS" if done.returncode == 0 else "FAIL"
    if done.returncode != 0:
        sys.stderr.write(output[-4000:])
    minutes = (time.monotonic() - started) / 60
    return f"SOAK {part.name}: {part.figure(output)} ({minutes:.1f} min) {verdict}"


def record(doc: Path, lines: list[str], argv: list[str]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [f"Latest run: {when}, commit `{commit}`, `python -m tests.soak {' '.join(argv)}`",
             "", "```", *lines, "```"]
    text = doc.read_text()
    begin = text.index("-->", text.index("<!-- soak:begin")) + len("-->\n")
    end = text.index("<!-- soak:end -->")
    doc.write_text(text[:begin] + "\n".join(block) + "\n" + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--trials", type=int, default=200, help="SIGKILL trials")
    parser.add_argument("--oracle", type=int, default=1000, help="oracle trials with crashes")
    parser.add_argument("--fuzz-cases", type=int, default=10_000, help="schemathesis cases")
    parser.add_argument("--fault-scale", type=int, default=5, help="fault test size factor")
    parser.add_argument("--only", action="append", help="run only these parts (repeatable)")
    parser.add_argument("--record", type=Path, help="write the run into this document")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    lines = []
    for part in parts(args):
        if args.only and part.name not in args.only:
            continue
        line = run(part)
        print(line, flush=True)
        lines.append(line)
    if args.record:
        record(args.record, lines, argv)
    return 0 if all(line.endswith("PASS") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
