"""Reading a 10,000-row workbook: python-calamine against openpyxl read-only (issue 9).

`python -m bench.bench_xlsx_read [ROWS]` writes a workbook of ROWS (10,000) rows of the
template's ten columns, then times, best of three (process CPU time, the machine is shared):
the raw rows from each library, ``read_rows`` with each engine, and ``read_catalog`` (read,
map, validate) as the portal's check and ``validate`` run it. ``--memory [ROWS]`` instead
reads the workbook with each engine in a fresh process and prints its peak RSS. The figures
decide ``files.excel.CALAMINE_MAX_BYTES``; they are quoted in docs/retailer-toolkit.md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import python_calamine

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.files import excel, read_catalog
from catalog_ingest.files.sources import inspect, read_rows
from catalog_ingest.files.writers import TEMPLATE_COLUMNS


def workbook(path: Path, rows: int) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Catalog")
    sheet.append(list(TEMPLATE_COLUMNS))
    for i in range(rows):
        body = f"40{i:010d}"
        sheet.append([f"SKU-{i}", body + str(gs1_check_digit(body)), "EAN", f"Item {i} name",
                      f"store-{i % 2}", f"{i % 100}.99", "Brand", "A_GEN_TAX", "Food", "Snacks"])
    book.save(path)
    return path


def best(work: Callable[[], int]) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(3):
        start = time.process_time()
        count = work()
        times.append(time.process_time() - start)
    return min(times), count


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = workbook(Path(tmp) / "bench.xlsx", rows)

        def raw_openpyxl() -> int:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
            finally:
                book.close()

        def raw_calamine() -> int:
            with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
                return sum(1 for _ in book.get_sheet_by_index(0).iter_rows())

        def ours() -> int:
            return sum(1 for _ in read_rows(inspect(path)))

        def checked() -> int:
            return sum(1 for _ in read_catalog(path))

        figures = {"openpyxl read-only, raw rows": best(raw_openpyxl),
                   "python-calamine, raw rows": best(raw_calamine),
                   "read_rows (calamine engine)": best(ours)}
        limit = excel.CALAMINE_MAX_BYTES
        excel.CALAMINE_MAX_BYTES = -1  # type: ignore[misc]
        figures["read_rows (openpyxl engine)"] = best(ours)
        excel.CALAMINE_MAX_BYTES = limit  # type: ignore[misc]
        figures["read_catalog: read, map, validate"] = best(checked)
        print(f"{rows:,} rows x {len(TEMPLATE_COLUMNS)} columns, {path.stat().st_size:,} bytes")
        for name, (seconds, count) in figures.items():
            print(f"  {name:36} {seconds:6.3f} s  ({count:,} rows)")


_PEAK = """
import resource, sys
from pathlib import Path
from catalog_ingest.files import excel
from catalog_ingest.files.sources import inspect, read_rows
excel.CALAMINE_MAX_BYTES = -1 if sys.argv[2] == "openpyxl" else 1 << 62
count = sum(1 for _ in read_rows(inspect(Path(sys.argv[1]))))
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def memory(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = workbook(Path(tmp) / "bench.xlsx", rows)
        print(f"{rows:,} rows x {len(TEMPLATE_COLUMNS)} columns, {path.stat().st_size:,} bytes")
        for engine in ("calamine", "openpyxl"):
            done = subprocess.run([sys.executable, "-c", _PEAK, str(path), engine],
                                  capture_output=True, text=True, check=True)
            count, peak = done.stdout.split()
            print(f"  read_rows ({engine} engine): peak RSS {peak} MB ({int(count):,} rows)")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--memory"]:
        memory(int(args[1]) if len(args) > 1 else 100_000)
    else:
        main(int(args[0]) if args else 10_000)
