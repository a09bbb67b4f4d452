"""The push's scratch file: in-memory verdicts, parked arrays, the archive-missing sets."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.scratch import Bloom, Scratch
from catalog_ingest.client.push.spill import SpillLog
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
    on_disk._log = SpillLog(partitions=4, spill_bytes=200)  # spills every few items
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
    keys = [hash(("s", str(n))) for n in range(2000)]
    assert [bloom.add(k) for k in keys[:3]] == [False, False, False]
    for key in keys:
        bloom.add(key)
    assert all(bloom.may_contain(k) for k in keys)
    assert all(bloom.add(k) for k in keys)


# Keys and values with the characters that could break the records' framing.
awkward = st.text(st.sampled_from('ab"\\\n,[]\x1f\u00e9'), max_size=6)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(awkward, awkward, st.one_of(st.none(), awkward)), max_size=60),
       st.integers(1, 300))
def test_the_spill_log_finds_the_newest_record_of_each_key(
        writes: list[tuple[str, str, str | None]], spill_bytes: int) -> None:
    log = SpillLog(partitions=2, spill_bytes=spill_bytes)
    model: dict[tuple[str, str], str] = {}
    try:
        for store, key, value in writes:
            prefix = b"\n" + msgspec.json.encode((1, store, key))[:-1] + b","
            expected = model.get((store, key))
            found = log.find(hash((store, key)), prefix)
            assert found == (None if expected is None else msgspec.json.encode(expected) + b"]")
            if value is not None:
                log.add(hash((store, key)), b"\n" + msgspec.json.encode((1, store, key, value)))
                model[(store, key)] = value
    finally:
        log.close()
    assert not log.path.exists()


def test_the_scratch_state_lives_in_files_not_memory(scratch: Scratch) -> None:
    validator = SourceValidator(scratch)
    for n in range(300):
        found = validator.item_issues(item("s1", f"SKU-{n}", [n, n + 1000]))
        assert not any(i.is_error for i in found)
    scratch.flush()
    assert scratch._log._pending == 0
    assert scratch._log.path.stat().st_size > 300 * 3 * 20
    again = validator.item_issues(item("s1", "SKU-7", [1]))
    assert [i.code for i in again] == ["DUPLICATE_SKU_IN_UPLOAD"]
    conflict = validator.item_issues(item("s1", "SKU-new", [1007]))
    assert [i.message for i in conflict if i.is_error] == [
        f"Barcode {ean(1007)} already belongs to SKU SKU-7 in store s1"]
