"""`portal`: the upload check of a 10,000-row xlsx, and catalog pages on a 1,000,000-item store.

Targets (issue 9 point 9), each against a ceiling measured in the same run:
- `portal-check`: checking a 10,000-row xlsx (read, map, every rule, the planner against the
  catalog, staged files written) ≤ 1.5x `catalog-ingest validate` of the same file, and ≤ 2 s.
  Ceiling: `catalog-ingest validate FILE --json` run in-process (typer's CliRunner: the
  command itself, without interpreter start-up), interleaved with the checks; medians of 5.
- `portal-pages`: with the `process` benchmark's cached 1,000,000-item store, the store browse
  page (a deep keyset page included) and the barcode search page over HTTP (a real
  `catalog-ingest serve`, logged in), p50 ≤ 100 ms each; the ceiling is the same page's raw
  SQL (sqlite3, same query) and is printed for reference.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path

import httpx

from bench import bench_process, datagen
from bench.common import BenchResult, Server, Target, fresh_dir, median, ms, percentile, serve_argv
from catalog_ingest.engine import accounts, file_check
from catalog_ingest.engine.file_source import SourceSpec
from catalog_ingest.engine.staging import Owner, StagingArea
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings

CHECK_ROWS = 10_000
CHECK_RATIO, CHECK_SECONDS = 1.5, 2.0
PAGE_MS = 100.0
PASSWORD = "bench-portal-password"
COLUMNS = ("item_sku", "external_product_id", "external_product_id_type", "item_name",
           "store_id", "standard_price", "brand_name", "product_category")
_TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def write_xlsx(path: Path, store: str) -> None:
    import openpyxl

    items = datagen.generate(CHECK_ROWS, 4242, [store], start=5_000_000, fault_rate=0.02)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Catalog")
    sheet.append(list(COLUMNS))
    for item in items:
        sheet.append([item.get(c) for c in COLUMNS])
    book.save(path)


def _validate(book: Path) -> float:
    """`catalog-ingest validate FILE --json`, the command itself, run in this process."""
    from typer.testing import CliRunner

    from catalog_ingest.cli.main import app

    started = time.perf_counter()
    outcome = CliRunner().invoke(app, ["validate", str(book), "--json"])
    took = time.perf_counter() - started
    assert outcome.exit_code in (0, 1), outcome.output[-2000:]
    return took


def measure_check(result: BenchResult, data_dir: Path, tenant_id: str, store: str,
                  runs: int) -> None:
    book = data_dir / "check.xlsx"
    write_xlsx(book, store)
    svc = open_runtime(Settings(data_dir=data_dir))
    area = StagingArea(data_dir)
    checks, validates = [], []
    try:
        _validate(book)  # warm-up: imports, page cache
        for _ in range(runs):  # interleaved, so both see the same machine load
            validates.append(_validate(book))
            staged = area.create(Owner(tenant_id, "bench"))
            shutil.copyfile(book, staged.source)
            started = time.perf_counter()
            summary = file_check.check_file(svc, tenant_id, staged, SourceSpec("check.xlsx"))
            checks.append(time.perf_counter() - started)
            area.discard(staged)
    finally:
        svc.close()
    check, validate = median(checks), median(validates)
    result.row(f"ceiling: `catalog-ingest validate` of a {CHECK_ROWS:,}-row xlsx (in-process, "
               f"median of {runs})", f"{validate:.2f} s")
    result.row(f"portal check of the same file against the 1M-item store ({summary.valid:,} "
               f"valid, {summary.invalid:,} invalid), median of {runs}", f"{check:.2f} s")
    ratio = check / validate
    result.targets.append(Target(
        "portal-check", f"{check:.2f} s vs validate {validate:.2f} s (limit 1.5x and 2 s)",
        ratio, ratio <= CHECK_RATIO and check <= CHECK_SECONDS))


def _login(client: httpx.Client, email: str) -> None:
    page = client.get("/portal/login")
    token = _TOKEN.search(page.text)
    assert token, page.text[:500]
    answer = client.post("/portal/login", data={"csrftoken": token.group(1), "email": email,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text[:500]


def _p50(client: httpx.Client, paths: list[str], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            answer = client.get(path)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, (path, answer.status_code)
    return percentile(times, 50), percentile(times, 95)


def _raw(db: Path, sql: str, params: tuple[object, ...], runs: int = 15) -> float:
    conn = sqlite3.connect(db)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append(time.perf_counter() - started)
    conn.close()
    return median(times)


def measure_pages(result: BenchResult, data_dir: Path, email: str, quick: bool) -> None:
    store = bench_process.STORE
    db = data_dir / "catalog.db"
    conn = sqlite3.connect(db)
    skus = [r[0] for r in conn.execute(
        "SELECT item_sku FROM items WHERE store_id = ? ORDER BY item_sku LIMIT 5 OFFSET 500000",
        (store,))]
    codes = [r[0] for r in conn.execute(
        "SELECT barcode FROM barcodes WHERE store_id = ? LIMIT 20 OFFSET 400000", (store,))]
    conn.close()
    browse_raw = _raw(db, "SELECT * FROM items WHERE store_id = ? AND item_sku > ? ORDER BY "
                      "item_sku LIMIT 51", (store, skus[0]))
    lookup_raw = _raw(db, "SELECT i.* FROM barcodes b JOIN items i ON i.store_id = b.store_id "
                      "AND i.item_sku = b.item_sku WHERE b.store_id = ? AND b.barcode = ?",
                      (store, codes[0]))
    rounds = 5 if quick else 20
    with Server(serve_argv("--no-worker", "--data-dir", str(data_dir)),
                data_dir / "server.log") as server, httpx.Client(base_url=server.url,
                                                                 timeout=30) as client:
        _login(client, email)
        first = client.get(f"/portal/catalog?store={store}")
        cursor = re.search(r'cursor=([A-Za-z0-9_-]+)', first.text)
        browse = [f"/portal/catalog?store={store}"]
        if cursor:
            browse.append(f"/portal/catalog?store={store}&cursor={cursor.group(1)}")
        browse_p50, browse_p95 = _p50(client, browse, rounds)
        search = [f"/portal/catalog?store={store}&q={code}" for code in codes]
        search_p50, search_p95 = _p50(client, search, max(1, rounds // 4))
    result.row("raw SQL: one keyset page of 51 items (sqlite3)", ms(browse_raw))
    result.row("raw SQL: one barcode lookup (sqlite3)", ms(lookup_raw))
    result.row("store browse page over HTTP, p50 / p95", f"{ms(browse_p50)} / {ms(browse_p95)}")
    result.row("barcode search page over HTTP, p50 / p95", f"{ms(search_p50)} / {ms(search_p95)}")
    worst = max(browse_p50, search_p50)
    result.targets.append(Target(
        "portal-pages", f"browse p50 {ms(browse_p50)}, barcode search p50 {ms(search_p50)} "
        f"(limit {PAGE_MS:.0f} ms)", worst * 1000 / PAGE_MS, worst * 1000 <= PAGE_MS))


def run(quick: bool = False) -> BenchResult:
    result = BenchResult("portal")
    began = time.perf_counter()
    base, tenant, built = bench_process.ensure_base(bench_process.BASE_ITEMS)
    data_dir = fresh_dir("portal")
    shutil.copytree(base, data_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.migrate-lock", "marker.json"))
    email = "bench@portal.example.com"
    svc = open_runtime(Settings(data_dir=data_dir))  # migrates: the portal's indexes
    try:
        accounts.create_user(svc, tenant.retailer_id, email, PASSWORD, "editor")
    finally:
        svc.close()
    took = f"{time.perf_counter() - began:.1f} s"
    result.row(f"set-up: {bench_process.BASE_ITEMS:,} live items "
               f"({'built' if built else 'cached'}), migrated", took)
    try:
        measure_check(result, data_dir, tenant.retailer_id, bench_process.STORE,
                      3 if quick else 5)
        measure_pages(result, data_dir, email, quick)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    result.notes.append("portal targets: check of a 10k-row xlsx <= 1.5x validate and <= 2 s; "
                        "browse and barcode search pages p50 <= 100 ms on a 1M-item store.")
    return result
