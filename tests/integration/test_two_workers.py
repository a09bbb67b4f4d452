"""Two `catalog-ingest worker` processes on one PostgreSQL: every upload applied once, in order.

The uploads of three retailers are queued first; the claim lock is held while both processes
start, so that all four worker threads wait for their first claim together and the work is
spread over both processes, whatever their start-up speed. The outcome is compared with the
oracle replaying each retailer's uploads in acceptance order.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import tables
from catalog_ingest.storage.uploads import _PG_CLAIM_LOCK  # the lock every claim takes
from tests.integration.oracle import (
    CatalogOracle,
    Op,
    accept_op,
    catalog_barcodes,
    catalog_rows,
    comparable,
    expect_op,
    new_stores,
    random_ops,
    stored_report,
)
from tests.support import pg

pytestmark = pytest.mark.postgres
RETAILERS, OPS_PER_RETAILER, DEADLINE = 3, 14, 90.0
WAITING_FOR_CLAIM = """
    SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 0 AND l.objid = %s
      AND d.datname = current_database()
"""


def wait_for(condition: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]]
             ) -> None:
    """Poll `condition` until it holds; fail at the deadline or when a worker process exits."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"worker exited while waiting for {what}: {dead}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def workers(url: str, data_dir: Path, log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {**os.environ, "CATALOG_INGEST_DATABASE_URL": url,
           "CATALOG_INGEST_DATA_DIR": str(data_dir)}
    env.pop("CATALOG_INGEST_SECRET_KEY", None)  # both share the data dir's secret
    procs = []
    try:
        for n in range(2):
            log = (log_dir / f"worker-{n}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "catalog_ingest", "worker", "--concurrency", "2"],
                env=env, cwd=log_dir, stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def enqueue(svc: Runtime, rng: random.Random, stores_each: int = 2, spread: bool = False
            ) -> list[tuple[int, list[str], Op, str]]:
    """~40 overlapping uploads and archives of three retailers, interleaved: (retailer, stores,
    op, ingestion id) in acceptance order. With `spread`, each upload is over a random subset
    of its retailer's stores, so that one retailer's uploads can be processed at once."""
    tenants = [new_stores(svc, stores_each) for _ in range(RETAILERS)]
    queues = [random_ops(rng, stores, OPS_PER_RETAILER, spread=spread) for _, stores in tenants]
    turns = [n for n in range(RETAILERS) for _ in range(OPS_PER_RETAILER)]
    rng.shuffle(turns)
    accepted = []
    for n in turns:
        retailer_id, stores = tenants[n]
        op = queues[n].pop(0)
        accepted.append((n, stores, op, accept_op(svc, retailer_id, stores, op)))
    return accepted


def statuses(svc: Runtime) -> list[tuple[str, str, int, str | None]]:
    u = tables.uploads.c
    with svc.db.read() as conn:
        rows = conn.execute(select(u.ingestion_id, u.status, u.attempts, u.claimed_by)
                            .order_by(u.seq)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@pytest.mark.parametrize(("stores_each", "spread"), [(2, False), (4, True)],
                         ids=["uploads-over-all-stores", "uploads-over-store-subsets"])
def test_two_worker_processes_apply_every_upload_once_in_acceptance_order(
        pg_databases: pg.PgDatabases, tmp_path: Path, stores_each: int, spread: bool) -> None:
    url = pg_databases.new()
    data_dir = tmp_path / "data"
    svc = open_runtime(Settings(data_dir=data_dir, database_url=url))
    try:
        accepted = enqueue(svc, random.Random(20261122), stores_each, spread)
        with psycopg.connect(url, autocommit=True) as gate, \
                workers(url, data_dir, tmp_path) as procs:
            gate.execute("SELECT pg_advisory_lock(%s)", (_PG_CLAIM_LOCK,))

            def all_waiting() -> bool:
                row = gate.execute(WAITING_FOR_CLAIM, (_PG_CLAIM_LOCK,)).fetchone()
                return row is not None and row[0] == 4

            wait_for(all_waiting, "all four worker threads to wait for a claim", procs)
            gate.execute("SELECT pg_advisory_unlock(%s)", (_PG_CLAIM_LOCK,))
            wait_for(lambda: all(s[1] in ("DONE", "FATAL") for s in statuses(svc)),
                     "every upload to end", procs)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert proc.wait(timeout=DEADLINE) == 0
            pids = {p.pid for p in procs}
        final = statuses(svc)
        assert [s[0] for s in final] == [a[3] for a in accepted]
        assert {(s[1], s[2]) for s in final} == {("DONE", 0)}
        # Both processes claimed uploads (worker ids are host:pid:random).
        assert {int(str(s[3]).split(":")[1]) for s in final} == pids
        assert_matches_oracle(svc, accepted)
    finally:
        svc.close()
        pg_databases.drop(url)


def assert_matches_oracle(svc: Runtime, accepted: list[tuple[int, list[str], Op, str]]) -> None:
    oracles = {n: CatalogOracle() for n, *_ in accepted}
    for n, stores, op, ingestion_id in accepted:
        expected, summary = expect_op(oracles[n], stores, op)
        doc = stored_report(svc, ingestion_id)
        assert comparable(doc["itemResults"]) == expected, op
        assert doc["summary"] == summary, op
    for n, stores, *_ in accepted:
        assert catalog_rows(svc, stores) == oracles[n].rows()
        assert catalog_barcodes(svc, stores) == oracles[n].barcodes()
