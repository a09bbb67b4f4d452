"""`workers` and `postgres`: processing on PostgreSQL, with one and with two worker processes.

PostgreSQL comes from CATALOG_INGEST_BENCH_POSTGRES_URL, else CATALOG_INGEST_TEST_POSTGRES_URL,
else the loopback default; each run creates (and drops) its own databases.

- `workers`: one retailer with 4 stores, 400k items (the project's seeded generator) cut as
  `push` cuts them (per-store chunks of 10k, the stores' chunks interleaved), all queued
  first; then N `catalog-ingest worker` processes drain the queue. Throughput is items ÷
  (first claim → last completion, the uploads' own timestamps); 2 processes ≥ 1.5x 1.
- `postgres`: (a) `process` on PostgreSQL: 10k new items into a 1M-item store, in-process
  `intake.accept` then a timed `Worker.run_once`, against the same on SQLite (bench_process's
  cached store) in the same run; (b) `sustained` on PostgreSQL: `catalog-ingest push` of
  bench_sustained's catalog at 10 requests/s to `serve --no-worker` plus 2 worker processes,
  against the embedded default (SQLite, `serve` with its worker child) in the same run. Each
  PostgreSQL figure ≤ 1.5x the SQLite one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench import bench_process, bench_sustained
from bench.common import (
    BenchResult,
    Server,
    Target,
    Tenant,
    fresh_dir,
    median,
    ms,
    provision,
    serve_argv,
)
from bench.datagen import encode_body, generate, item_barcodes
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.worker import Worker
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import tables
from catalog_ingest.storage.catalog import ITEM_COLUMNS

STORES = ("wk-store-1", "wk-store-2", "wk-store-3", "wk-store-4")
CHUNK = 10_000
WORKERS_RATIO = 1.5
POSTGRES_RATIO = 1.5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEADLINE = 1800.0


def server_url() -> str:
    return (os.environ.get("CATALOG_INGEST_BENCH_POSTGRES_URL")
            or os.environ.get("CATALOG_INGEST_TEST_POSTGRES_URL") or DEFAULT_URL)


def _admin() -> psycopg.Connection[Any]:
    parsed = make_url(server_url()).set(drivername="postgresql")
    return psycopg.connect(parsed.render_as_string(hide_password=False), autocommit=True)


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """A fresh database (optionally a copy of `template`), dropped afterwards: its URL."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield make_url(server_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def push_chunks(count: int, seed: int) -> list[bytes]:
    """`count` items over STORES cut as push cuts them: per store, 10k a chunk, interleaved."""
    items = generate(count, seed, STORES)
    per_store = [[i for i in items if i["store_id"] == s] for s in STORES]
    chunks = [[store[k:k + CHUNK] for k in range(0, len(store), CHUNK)] for store in per_store]
    out: list[bytes] = []
    for round_ in range(max(len(c) for c in chunks)):
        out.extend(encode_body(c[round_]) for c in chunks if round_ < len(c))
    return out


def _worker_env(svc: Runtime) -> dict[str, str]:
    env = {**os.environ, "CATALOG_INGEST_DATABASE_URL": svc.settings.database_url,
           "CATALOG_INGEST_DATA_DIR": str(svc.settings.data_dir)}
    env.pop("CATALOG_INGEST_SECRET_KEY", None)  # the data dir's secret
    return env


@contextmanager
def worker_processes(svc: Runtime, count: int, log_dir: Path
                     ) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    try:
        for n in range(count):
            with open(log_dir / f"worker-{n}.log", "ab") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "catalog_ingest", "worker"], env=_worker_env(svc),
                    stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _span(svc: Runtime, expected: int) -> tuple[float, int] | None:
    """(first claim → last completion, items) once `expected` uploads are DONE, else None."""
    u = tables.uploads.c
    with svc.db.read() as conn:
        rows = conn.execute(select(u.status, u.started_at, u.completed_at, u.item_count)).all()
    if len(rows) < expected or any(r.status in ("INQUEUE", "INPROGRESS") for r in rows):
        return None
    if any(r.status != "DONE" for r in rows):
        raise RuntimeError(f"uploads did not end DONE: {sorted({r.status for r in rows})}")
    span = max(r.completed_at for r in rows) - min(r.started_at for r in rows)
    return span, sum(r.item_count for r in rows)


def wait_done(svc: Runtime, expected: int, procs: Sequence[subprocess.Popen[bytes]]
              ) -> tuple[float, int]:
    deadline = time.monotonic() + DEADLINE
    while (found := _span(svc, expected)) is None:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker process exited")
        if time.monotonic() > deadline:
            raise TimeoutError("uploads not processed in time")
        time.sleep(0.2)  # progress polling
    return found


def drain_with(bodies: Sequence[bytes], processes: int, work: Path) -> tuple[float, int]:
    """Queue `bodies` on a fresh database, then drain with `processes` workers: (span, items)."""
    data_dir = work / f"data-{processes}"
    with pg_database() as url:
        svc = open_runtime(Settings(data_dir=data_dir, database_url=url))
        try:
            tenant = provision(svc, "Workers Bench", STORES)
            for body in bodies:
                stores = sorted({s for s in STORES if f'"store_id":"{s}"'.encode() in body})
                intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD,
                              body=body, item_count=body.count(b'"item_sku"'),
                              store_ids=stores, idempotency_key=None)
            with worker_processes(svc, processes, work) as procs:
                return wait_done(svc, len(bodies), procs)
        finally:
            svc.close()


def run(quick: bool = False) -> BenchResult:
    count = 100_000 if quick else 400_000
    result = BenchResult("workers")
    work = fresh_dir("workers")
    bodies = push_chunks(count, 4242)
    result.row("uploads", f"{len(bodies)} x ≤{CHUNK:,} items, {count:,} items, one retailer, "
               f"{len(STORES)} stores (one store per upload, as push cuts them), PostgreSQL")
    rates = {}
    for processes in (1, 2):
        span, items = drain_with(bodies, processes, work)
        rates[processes] = items / span
        result.row(f"{processes} worker process{'es' if processes > 1 else ''}: first claim → "
                   "last DONE", f"{span:.1f} s ({items / span:,.0f} items/s)")
    ratio = rates[2] / rates[1]
    result.targets.append(Target("workers", f"2 processes {rates[2]:,.0f} items/s vs 1 "
                                 f"{rates[1]:,.0f} items/s", ratio, ratio >= WORKERS_RATIO))
    result.notes.append(f"workers target: 2 worker processes ≥ {WORKERS_RATIO}x the throughput "
                        "of 1 (the ratio printed; higher is better); uploads queued first.")
    return result


# --- `postgres`: process and sustained on PostgreSQL vs SQLite -------------------------------

BASE_DB = "bench_process_base_1m"


def _copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterator[Sequence[Any]]
               ) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def ensure_pg_base() -> tuple[str, float | None]:
    """The 1M-item PostgreSQL store, a database kept between runs and copied as a template:
    (its retailer id, build seconds when it was built now)."""
    fingerprint = bench_process._schema_fingerprint()
    marker = f"{bench_process.BASE_ITEMS}:{bench_process.SEED}:{fingerprint}"
    url = make_url(server_url()).set(database=BASE_DB).render_as_string(hide_password=False)
    with _admin() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (BASE_DB,)).fetchone()
    if exists:
        with psycopg.connect(_plain(url)) as conn:
            found = conn.execute("SELECT to_regclass('bench_marker')").fetchone()
            row = conn.execute("SELECT value FROM bench_marker").fetchone() if found and found[0] \
                else None
        if row and row[0].split("|")[0] == marker:
            return row[0].split("|")[1], None
        with _admin() as conn:
            conn.execute(f'DROP DATABASE "{BASE_DB}" WITH (FORCE)')
    started = time.perf_counter()
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{BASE_DB}"')
    svc = open_runtime(Settings(data_dir=fresh_dir("pg-base"), database_url=url))
    try:
        retailer_id = provision(svc, "Process Bench", [bench_process.STORE]).retailer_id
    finally:
        svc.close()
    now = time.time()
    with psycopg.connect(_plain(url)) as conn, conn.cursor() as cur:
        for start in range(0, bench_process.BASE_ITEMS, 50_000):
            items = generate(50_000, bench_process.SEED + start, [bench_process.STORE],
                             start=start, fault_rate=0.0)
            rows = [bench_process._item_row(i, now, "bench-base") for i in items]
            _copy_rows(cur, "items", ITEM_COLUMNS, iter(rows))
            _copy_rows(cur, "barcodes", ("store_id", "barcode", "item_sku"),
                       iter([(bench_process.STORE, c, i["item_sku"]) for i in items
                             for c in item_barcodes(i)]))
        cur.execute("CREATE TABLE bench_marker (value text)")
        cur.execute("INSERT INTO bench_marker VALUES (%s)", (f"{marker}|{retailer_id}",))
        conn.commit()
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return retailer_id, time.perf_counter() - started


def _engine_times(svc: Runtime, retailer_id: str, bodies: Sequence[bytes]) -> list[float]:
    """In-process accept, then a timed Worker.run_once, per body (round 0 a warm-up)."""
    worker = Worker(svc)
    times = []
    for body in bodies:
        os.sync()
        intake.accept(svc, retailer_id=retailer_id, kind=UploadKind.UPLOAD, body=body,
                      item_count=bench_process.UPLOAD_ITEMS, store_ids=[bench_process.STORE],
                      idempotency_key=None)
        started = time.perf_counter()
        if worker.run_once() != "DONE":
            raise RuntimeError("the engine did not end the upload DONE")
        times.append(time.perf_counter() - started)
    return times[1:]


def process_pair(rounds: int, result: BenchResult) -> Target:
    """`process` on PostgreSQL vs SQLite, the same bodies, in this run."""
    retailer_id, built = ensure_pg_base()
    bodies = bench_process._bodies(rounds + 1)
    base, tenant, _ = bench_process.ensure_base(bench_process.BASE_ITEMS)
    sqlite = bench_process.Engine(base, tenant)
    try:
        sqlite_times = _engine_times(sqlite.svc, tenant.retailer_id, bodies)
    finally:
        sqlite.close()
    with pg_database(BASE_DB) as url:
        svc = open_runtime(Settings(data_dir=fresh_dir("pg-process"), database_url=url))
        try:
            pg_times = _engine_times(svc, retailer_id, bodies)
        finally:
            svc.close()
    result.row("process: 1M-item store on PostgreSQL", "built in "
               f"{built:.0f} s" if built else "cached (template database)")
    result.row(f"process: SQLite engine 201 → DONE p50 (n={rounds})", ms(median(sqlite_times)))
    result.row(f"process: PostgreSQL engine 201 → DONE p50 (n={rounds})", ms(median(pg_times)))
    ratio = median(pg_times) / median(sqlite_times)
    return Target("postgres_process", f"p50 {ms(median(pg_times))} vs SQLite "
                  f"{ms(median(sqlite_times))}", ratio, ratio <= POSTGRES_RATIO)


def sustained_pair(count: int, result: BenchResult) -> Target:
    """`sustained` on PostgreSQL (serve --no-worker + 2 worker processes) vs the embedded
    default, the same catalog pushed the same way, in this run."""
    source = bench_sustained.catalog(count)
    work = fresh_dir("postgres-sustained")
    spans = {}
    for kind in ("sqlite", "postgres"):
        data_dir = work / f"data-{kind}"
        run_dir = work / kind
        run_dir.mkdir()
        if kind == "sqlite":
            tenant = _provision(data_dir, "")
            env = {"CATALOG_INGEST_DATA_DIR": str(data_dir),
                   "CATALOG_INGEST_RATE_LIMIT": "10/second"}
            with Server(serve_argv(), run_dir / "serve.log", env=env) as server:
                bench_sustained.push(server, tenant, source, run_dir, "first")
        else:
            with pg_database() as url:
                tenant = _provision(data_dir, url)
                env = {"CATALOG_INGEST_DATA_DIR": str(data_dir),
                       "CATALOG_INGEST_DATABASE_URL": url,
                       "CATALOG_INGEST_RATE_LIMIT": "10/second"}
                svc = open_runtime(Settings(data_dir=data_dir, database_url=url))
                try:
                    with Server(serve_argv("--no-worker"), run_dir / "serve.log", env=env) as srv, \
                            worker_processes(svc, 2, run_dir):
                        bench_sustained.push(srv, tenant, source, run_dir, "first")
                finally:
                    svc.close()
        timing = bench_sustained.timings(run_dir / "first")
        spans[kind] = timing["span"]
        result.row(f"sustained ({kind}{', 2 worker processes' if kind == 'postgres' else ''}): "
                   "first POST → last DONE",
                   f"{timing['span']:.1f} s ({timing['items'] / timing['span']:,.0f} items/s)")
    ratio = spans["postgres"] / spans["sqlite"]
    return Target("postgres_sustained", f"{spans['postgres']:.1f} s vs SQLite "
                  f"{spans['sqlite']:.1f} s", ratio, ratio <= POSTGRES_RATIO)


def _provision(data_dir: Path, url: str) -> Tenant:
    svc = open_runtime(Settings(data_dir=data_dir, database_url=url))
    try:
        return provision(svc, "Sustained Bench", bench_sustained.STORES)
    finally:
        svc.close()


def run_postgres(quick: bool = False) -> BenchResult:
    result = BenchResult("postgres")
    result.targets.append(process_pair(4 if quick else 10, result))
    result.targets.append(sustained_pair(bench_sustained.QUICK if quick else bench_sustained.FULL,
                                         result))
    result.notes.append(f"postgres targets: each PostgreSQL figure ≤ {POSTGRES_RATIO}x the SQLite "
                        "one measured in the same run (the ratio printed).")
    return result
