"""End to end: a service with a small body limit answers 413; the push splits and delivers all."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.e2e.test_push_e2e import Pusher, ean, start_rig

LIMIT = 20_000


def test_chunks_over_the_body_limit_are_split_until_they_fit(tmp_path: Path) -> None:
    rig = start_rig(tmp_path, {"CATALOG_INGEST_MAX_BODY_BYTES": str(LIMIT)})
    try:
        tenant, stores = rig.tenant("Split Retailer")
        source = tmp_path / "catalog.csv"
        with open(source, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["item_sku", "external_product_id", "item_name", "store_id",
                          "standard_price", "brand_name"])
            out.writerows([f"SPLIT-{i:05d}", ean(7 * i + 2), f"Item number {i}", stores[0],
                           "2.50", f"Brand {i % 7}"] for i in range(300))
        pusher = Pusher(tmp_path, tenant, rig.server.url)
        code, summary = pusher.run(str(source), "--chunk-size", "300")
        assert (code, summary["status"]) == (0, "DONE"), summary
        assert summary["totals"]["created"] == 300
        chunks = pusher.chunks()
        split = [c for c in chunks if c["status"] == "SPLIT"]
        sent = [c for c in chunks if c["status"] != "SPLIT"]
        assert len(split) >= 2  # 300 items, then 2 x 150 still too large, then 4 x 75
        assert all(c["status"] == "DONE" for c in sent)
        assert sum(c["item_count"] for c in sent) == 300
        assert len({c["idempotency_key"] for c in chunks}) == len(chunks)
        assert pusher.attempts().count("RequestTooLarge") == len(split)
        assert len(rig.uploads(tenant)) == len(sent)  # every accepted upload fit the limit
    finally:
        rig.server.stop()
        rig.svc.close()
