"""Claims per store in acceptance order: uploads with disjoint store sets may run at once."""

from __future__ import annotations

import json
import time

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from tests.integration.oracle import new_stores


def queue(svc: Runtime, retailer_id: str, store_sets: list[list[str]]) -> list[str]:
    ids = []
    for stores in store_sets:
        body = json.dumps({"catalogItems": []}).encode()
        ids.append(intake.accept(svc, retailer_id=retailer_id, kind=UploadKind.UPLOAD, body=body,
                                 item_count=0, store_ids=stores, idempotency_key=None))
    return ids


def claim(svc: Runtime, worker: str, now: float | None = None) -> str | None:
    with svc.db.write() as conn:
        upload = uploads.claim_next(conn, worker, 30.0, now or time.time())
    return upload.ingestion_id if upload else None


def end(svc: Runtime, ingestion_id: str, worker: str) -> None:
    with svc.db.write() as conn:
        assert uploads.finish(conn, ingestion_id, worker, "DONE", None, None, None, time.time())


def test_uploads_of_one_retailer_run_at_once_only_when_their_stores_do_not_overlap(
        svc: Runtime) -> None:
    retailer_id, (a, b, c) = new_stores(svc, 3)
    other_retailer, (x,) = new_stores(svc, 1)
    u1, u2, u3, u4, u5, u6 = queue(svc, retailer_id, [[a], [b], [a, b], [c], [a, b, c], [c]])
    (v1,) = queue(svc, other_retailer, [[x]])
    assert claim(svc, "w1") == u1
    assert claim(svc, "w2") == u2  # disjoint from u1: at the same time
    assert claim(svc, "w3") == u4  # u3 shares a store with u1 and u2; u4 does not
    assert claim(svc, "w4") == v1  # another retailer
    assert claim(svc, "w5") is None  # u3 (a, b), u5 (all), u6 (c, after u4 and u5) wait
    end(svc, u1, "w1")
    assert claim(svc, "w5") is None  # u3 still shares b with u2
    end(svc, u2, "w2")
    assert claim(svc, "w5") == u3
    end(svc, u4, "w3")
    assert claim(svc, "w6") is None  # u5 waits for u3; u6 waits for the earlier u5
    end(svc, u3, "w5")
    assert claim(svc, "w6") == u5
    assert claim(svc, "w7") is None
    end(svc, u5, "w6")
    assert claim(svc, "w7") == u6


def test_an_expired_claim_is_taken_over_before_later_uploads_of_its_stores(svc: Runtime) -> None:
    retailer_id, (a, b) = new_stores(svc, 2)
    u1, _, u3 = queue(svc, retailer_id, [[a], [a], [b]])
    now = time.time()
    assert claim(svc, "w1", now) == u1
    assert claim(svc, "w2", now) == u3
    assert claim(svc, "w3", now) is None  # u2 waits for u1, whose lease runs
    assert claim(svc, "w3", now + 31.0) == u1  # w1's lease ran out: u1 again, not u2
