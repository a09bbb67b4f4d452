"""The push's scratch file: in-memory verdicts, parked arrays, the archive-missing sets."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.scratch import Bloom, Scratch
from catalog_ingest.client.push.validate import MemoryState, SourceValidator
from catalog_ingest.domain.barcodes import gs1_check_digit


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    found = Scratch()
    try:
        yield found
    finally:
        found.close()
    assert not found.path.exists()


def ean(n: int) -> str:
    body = f"40{n:010d}"
    return body + str(gs1_check_digit(body))


def item(store: str, sku: str, codes: list[int], price: str = "1.50") -> dict[str, Any]:
    found: dict[str, Any] = {"store_id": store, "item_sku": sku, "item_name": "x",
                             "external_product_id": ean(codes[0]), "standard_price": price}
    if len(codes) > 1:
        found["additional_external_product_information"] = [
            {"external_product_id": ean(c)} for c in codes[1:]]
    return found


items = st.lists(st.builds(item, st.sampled_from(["s1", "s2"]),
                           st.sampled_from([f"SKU-{i}" for i in range(6)]),
                           st.lists(st.integers(0, 8), min_size=1, max_size=3),
                           st.sampled_from(["1.50", "-1"])), max_size=40)


@settings(max_examples=60, deadline=None)
@given(items)
def test_the_scratch_state_gives_the_in_memory_verdicts(sequence: list[dict[str, Any]]) -> None:
    on_disk = Scratch()
    try:
        memory, disk = SourceValidator(MemoryState()), SourceValidator(on_disk)
        for n, entry in enumerate(sequence):
            assert disk.item_issues(entry) == memory.item_issues(entry)
            if n % 7 == 3:
                on_disk.flush()  # written batches are read back the same
    finally:
        on_disk.close()


def test_parked_arrays_leave_memory_and_come_back(scratch: Scratch) -> None:
    chunk = Chunk(3, "UPLOAD", "s1", b"", "f", 2, array("Q", [1, 2 << 32 | 5]), b"a" * 32)
    scratch.park(chunk)
    assert (len(chunk.refs), chunk.digests) == (0, b"")
    scratch.unpark(chunk)
    assert (list(chunk.refs), chunk.digests) == ([1, 2 << 32 | 5], b"a" * 32)
    other = Chunk(4, "UPLOAD", "s1", b"", "f", 0)
    scratch.unpark(other)  # never parked: unchanged
    assert len(other.refs) == 0


def test_missing_skus_come_in_order_with_their_stores(scratch: Scratch) -> None:
    scratch.add_present([("A", "s1"), ("B", "s1"), ("C", "")])
    scratch.add_known([("A", "s1"), ("A", "s2"), ("D", "s2"), ("D", "s1"), ("E", "s3")])
    assert scratch.partially_missing() == 1  # A left s2
    assert scratch.stores() == ["s1", "s2", "s3"]
    assert scratch.missing("", 1) == {"D": ["s1", "s2"]}
    assert scratch.missing("D", 10) == {"E": ["s3"]}
    assert scratch.missing("E", 10) == {}


def test_the_bloom_filter_never_forgets() -> None:
    bloom = Bloom(bits_log2=12)
    keys = [("s", str(n)) for n in range(2000)]
    assert [bloom.add(k) for k in keys[:3]] == [False, False, False]
    for key in keys:
        bloom.add(key)
    assert all(bloom.may_contain(k) for k in keys)
    assert all(bloom.add(k) for k in keys)
