"""The benchmarks' data generator keeps its promises (the benchmarks themselves never run here)."""

from __future__ import annotations

from typing import Any

import msgspec
from bench.datagen import encode_body, generate, item_barcodes

from catalog_ingest.domain.barcodes import judge_barcode
from catalog_ingest.domain.prices import is_valid_price
from catalog_ingest.engine.requests import UploadRequest

STORES = ["store-a", "store-b", "store-c"]


def _faulty(item: dict[str, Any]) -> bool:
    """Whether the item breaks a stateless rule: check digit, price or blank name."""
    extras = item.get("additional_external_product_information") or []
    pairs = [(item["external_product_id"], item.get("external_product_id_type")),
             *((e["external_product_id"], e["external_product_id_type"]) for e in extras)]
    bad_code = any(not isinstance(judge_barcode(code, kind), str) for code, kind in pairs)
    price = item.get("standard_price")
    bad_price = price is not None and not is_valid_price(price)
    return bad_code or bad_price or not item["item_name"].strip()


def test_generate_is_deterministic_by_seed() -> None:
    assert generate(500, 3, STORES) == generate(500, 3, STORES)
    assert generate(500, 3, STORES) != generate(500, 4, STORES)


def test_items_are_realistic_and_about_one_percent_faulty() -> None:
    items = generate(20_000, 11, STORES)
    assert {i["store_id"] for i in items} == set(STORES)
    assert len({(i["store_id"], i["item_sku"]) for i in items}) == len(items)
    counts = {len(item_barcodes(i)) for i in items}
    assert counts == {1, 2, 3}
    faulty = sum(1 for i in items if _faulty(i))
    assert 0.005 * len(items) <= faulty <= 0.015 * len(items)
    assert all(i["item_name"] and i["product_category"] for i in items)


def test_barcodes_are_unique_per_store_across_disjoint_ranges() -> None:
    items = generate(3_000, 1, STORES) + generate(3_000, 2, STORES, start=3_000)
    seen: set[tuple[str, str]] = set()
    for item in items:
        for code in item_barcodes(item):
            key = (item["store_id"], code)
            assert key not in seen
            seen.add(key)


def test_fault_free_items_and_the_body_pass_the_request_model() -> None:
    items = generate(2_000, 5, STORES, fault_rate=0.0)
    assert not any(_faulty(i) for i in items)
    request = msgspec.json.decode(encode_body(items), type=UploadRequest)
    assert len(request.catalogItems) == len(items)
