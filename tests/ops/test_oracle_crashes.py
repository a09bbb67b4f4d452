"""Exactly-once under crashes (quality: exactly-once): random sequences of uploads and
archives, each attempt possibly crashing at a random point of its processing; the final
catalog and every report equal the oracle's replay of the accepted uploads in order.

A crash is a `BaseException` thrown from inside processing (before, during or after the bulk
writes of the transaction, before its commit): the process's work vanishes as if it died,
its claim stays INPROGRESS with the dead worker's id, and a restart frees it
(`release_dead_claims`, what `serve` does at start for its host's dead workers). Sized by
CATALOG_INGEST_ORACLE_CRASH_TRIALS (CI: 20; `make soak`: 1,000).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import pytest

from catalog_ingest.engine.processor import process
from catalog_ingest.engine.worker import new_worker_id
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.integration.oracle import (
    CatalogOracle,
    accept_op,
    catalog_barcodes,
    catalog_rows,
    comparable,
    expect_op,
    new_stores,
    random_ops,
    stored_report,
)

TRIALS = int(os.environ.get("CATALOG_INGEST_ORACLE_CRASH_TRIALS", "20"))
SEED = int(os.environ.get("CATALOG_INGEST_ORACLE_CRASH_SEED", "20261201"))
#: The checkpoints of one attempt: before the transaction, after planning, after the writes.
CHECKPOINTS = 3


class Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch and handle it)."""


def crash_at(point: int | None) -> Callable[[], bool]:
    calls = iter(range(CHECKPOINTS + 1))

    def interrupted() -> bool:
        if next(calls) == point:
            raise Crash()
        return False

    return interrupted


def process_with_crashes(svc: Runtime, rng: random.Random) -> tuple[list[str], int]:
    """Claim and process until nothing is claimable, crashing at random; (statuses, crashes)."""
    statuses, crashes = [], 0
    while True:
        worker_id = new_worker_id()
        with svc.db.write() as conn:
            upload = uploads.claim_next(conn, worker_id, svc.settings.lease_seconds, time.time())
        if upload is None:
            return statuses, crashes
        point = rng.randrange(CHECKPOINTS) if rng.random() < 0.5 else None
        try:
            statuses.append(process(svc, upload, worker_id, crash_at(point)))
        except Crash:
            crashes += 1
            with svc.db.read() as conn:
                left = uploads.get_upload(conn, upload.ingestion_id)
            assert left is not None and left.status == "INPROGRESS"
            assert left.claimed_by == worker_id and left.attempts == 0
            with svc.db.write() as conn:  # the restart frees the dead worker's claim
                assert uploads.release_dead_claims(conn, [worker_id]) == 1


def run_trial(svc: Runtime, rng: random.Random) -> int:
    retailer_id, stores = new_stores(svc)
    ops = random_ops(rng, stores, rng.randint(1, 8))
    ids = [accept_op(svc, retailer_id, stores, op) for op in ops]
    statuses, crashes = process_with_crashes(svc, rng)
    assert statuses == ["DONE"] * len(ops)
    oracle = CatalogOracle()
    for ingestion_id, op in zip(ids, ops, strict=True):
        expected, summary = expect_op(oracle, stores, op)
        doc = stored_report(svc, ingestion_id)
        assert doc["processingStatus"] == "DONE"
        assert comparable(doc["itemResults"]) == expected, op
        assert doc["summary"] == summary, op
    assert catalog_rows(svc, stores) == oracle.rows()
    assert catalog_barcodes(svc, stores) == oracle.barcodes()
    return crashes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_random_sequences_with_crashes_match_the_oracle(svc: Runtime) -> None:
    crashes = 0
    for trial in range(TRIALS):
        rng = random.Random(SEED + trial)
        try:
            crashes += run_trial(svc, rng)
        except AssertionError as exc:
            raise AssertionError(f"trial {trial} (seed {SEED + trial}): {exc}") from exc
    assert crashes > 0
    print(f"\noracle-crashes: {TRIALS} trials, {crashes} crashes, all identical to the oracle "
          f"(seed {SEED})")
