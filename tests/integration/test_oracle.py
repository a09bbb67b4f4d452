"""Random sequences of uploads and archives: the real engine agrees with the naive oracle.

The contract's "later wins" and one-SKU-per-barcode rules, checked on every report entry and
on the final catalog (item values, liveness, barcode owners) of a small, crowded universe:
two stores, eight SKUs, ten barcodes of which two are never valid.
"""

from __future__ import annotations

import random
import threading
import time

from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog_ingest.engine.worker import Worker, drain
from catalog_ingest.runtime import Runtime
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

DEADLINE = 60.0


def run_and_compare(svc: Runtime, rng: random.Random) -> None:
    retailer_id, stores = new_stores(svc)
    ops = random_ops(rng, stores, rng.randint(1, 8))
    note(f"operations: {ops}")
    ids = [accept_op(svc, retailer_id, stores, op) for op in ops]
    assert drain(svc) == ["DONE"] * len(ops)
    oracle = CatalogOracle()
    for ingestion_id, op in zip(ids, ops, strict=True):
        expected, summary = expect_op(oracle, stores, op)
        doc = stored_report(svc, ingestion_id)
        assert doc["processingStatus"] == "DONE"
        assert comparable(doc["itemResults"]) == expected, op
        assert doc["summary"] == summary, op
    assert catalog_rows(svc, stores) == oracle.rows()
    assert catalog_barcodes(svc, stores) == oracle.barcodes()


def test_engine_matches_the_oracle_on_random_sequences(svc: Runtime, database_url: str) -> None:
    # Every example gets a fresh retailer and fresh stores in the one database of the test.
    examples = 15 if database_url else 40

    @hypothesis_settings(max_examples=examples, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(rng=st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        run_and_compare(svc, rng)

    check()


def drain_with_two_workers(svc: Runtime, count: int) -> None:
    """Two worker threads claim and process until `count` uploads have ended."""
    ended: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        worker = Worker(svc)
        deadline = time.monotonic() + DEADLINE
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(ended) >= count:
                        return
                claimed, status = worker.step()
                if status is not None:
                    with lock:
                        ended.append(status)
                elif not claimed:
                    time.sleep(0.002)  # the other worker holds what is left: poll again
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert ended == ["DONE"] * count


def run_two_workers_and_compare(svc: Runtime, rng: random.Random) -> None:
    retailer_id, stores = new_stores(svc, 4)
    ops = random_ops(rng, stores, rng.randint(2, 10), spread=True)
    note(f"operations: {ops}")
    ids = [accept_op(svc, retailer_id, stores, op) for op in ops]
    drain_with_two_workers(svc, len(ops))
    oracle = CatalogOracle()
    for ingestion_id, op in zip(ids, ops, strict=True):
        expected, summary = expect_op(oracle, stores, op)
        doc = stored_report(svc, ingestion_id)
        assert comparable(doc["itemResults"]) == expected, op
        assert doc["summary"] == summary, op
    assert catalog_rows(svc, stores) == oracle.rows()
    assert catalog_barcodes(svc, stores) == oracle.barcodes()


def test_two_workers_match_the_oracle_on_uploads_over_several_stores(
        svc: Runtime, database_url: str) -> None:
    """Uploads with disjoint store sets may run at once; the outcome is still the in-order one."""
    examples = 10 if database_url else 25

    @hypothesis_settings(max_examples=examples, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(rng=st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        run_two_workers_and_compare(svc, rng)

    check()


def test_the_oracle_itself_on_a_known_sequence() -> None:
    """The oracle's own rules on a hand-checked case, so that agreement means something."""
    oracle = CatalogOracle()
    a = {"item_sku": "A", "store_id": "s", "item_name": "n",
         "external_product_id": "4006381333931", "external_product_id_type": "EAN"}
    b = {**a, "item_sku": "B"}
    results = oracle.upload([a, b, {**a, "item_name": "m"}])
    assert [(r[3], r[4], [c for _, c in r[5]]) for r in results] == [
        ("ACCEPTED", "CREATED", []), ("REJECTED", None, ["BARCODE_CONFLICT"]),
        ("REJECTED", None, ["DUPLICATE_SKU_IN_UPLOAD"])]
    assert [r[4] for r in oracle.upload([a])] == ["UNCHANGED"]
    assert [(r[2], r[4]) for r in oracle.archive(["A", "Z"], ["s", "t"])] == [
        ("s", "ARCHIVED"), (None, None)]
    assert oracle.barcodes() == {}
    assert [r[4] for r in oracle.upload([b, a])] == ["CREATED", None]
    assert oracle.rows()[("s", "A")][-1] is False


def test_the_generator_reaches_every_kind_of_outcome() -> None:
    """The generator reaches the outcomes the property is about (not only rejections)."""
    outcomes: set[object] = set()
    for seed in range(6):
        rng = random.Random(seed)
        stores = ["s0", "s1"]
        oracle = CatalogOracle()
        for op in random_ops(rng, stores, 8):
            results, _ = expect_op(oracle, stores, op)
            outcomes.update(r[4] for r in results)
            outcomes.update(code for r in results for _, code in r[5])
    assert outcomes >= {"CREATED", "UPDATED", "UNCHANGED", "ARCHIVED", "BARCODE_CONFLICT",
                        "DUPLICATE_SKU_IN_UPLOAD", "ALREADY_ARCHIVED", "SKU_NOT_FOUND",
                        "INVALID_CHECK_DIGIT", "DUPLICATE_BARCODE_IN_ITEM"}
