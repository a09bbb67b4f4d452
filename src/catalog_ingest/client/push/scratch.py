"""A push's scratch space on disk: what would otherwise grow with the catalog in memory.

- the cross-item validation state (every (store, SKU) seen, every barcode's owner), as the
  ``CrossItemState`` of ``validate.SourceValidator``: a Bloom filter in memory and the
  records in a ``spill.SpillLog``;
- in a temporary SQLite file, the per-item locations and content hashes of uploads waiting
  for their reports (``park`` / ``unpark``): 24 bytes an item that need not stay in memory
  while the service works;
- for ``--archive-missing``, the source's SKUs and the SKUs the tracking database knows.

Both are private to one run (deleted on close) and written without durability: a push that
dies simply plans again from the sources when resumed. Their buffers and page cache are small
and fixed, so the push's memory does not depend on the size of the catalog.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.spill import SpillLog

_SCHEMA = (
    "CREATE TABLE parked (seq INTEGER PRIMARY KEY, refs BLOB NOT NULL, digests BLOB NOT NULL)",
    "CREATE TABLE present (sku TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (sku, store))"
    " WITHOUT ROWID",
    "CREATE TABLE known (sku TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (sku, store))"
    " WITHOUT ROWID",
)
#: SQLite page cache of the scratch file, KiB (negative: a size, not a page count).
CACHE_KIB = 4 * 1024
#: Rows written at a time (the --archive-missing sets; parked chunks between commits).
_BATCH = 5000
_encode = msgspec.json.Encoder().encode


class Bloom:
    """A fixed-size Bloom filter over hashes (Python's own ``hash``: one process only).

    2**26 bits (8 MiB) and 3 probes: about 0.2% false positives at 3M keys (1M items with
    their barcodes), 1.4% at 6M, degrading slowly beyond; a false positive only costs a
    lookup. The probes are written out: this runs several times per item."""

    def __init__(self, bits_log2: int = 26) -> None:
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))

    def may_contain(self, h: int) -> bool:
        step, mask, bits = (h >> 31) | 1, self._mask, self._bits
        p1, p2, p3 = h & mask, (h + step) & mask, (h + 2 * step) & mask
        return bool(bits[p1 >> 3] & (1 << (p1 & 7)) and bits[p2 >> 3] & (1 << (p2 & 7))
                    and bits[p3 >> 3] & (1 << (p3 & 7)))

    def add(self, h: int) -> bool:
        """Add the hash ``h``; True when it may have been added before."""
        step, mask, bits = (h >> 31) | 1, self._mask, self._bits
        p1, p2, p3 = h & mask, (h + step) & mask, (h + 2 * step) & mask
        b1, b2, b3 = 1 << (p1 & 7), 1 << (p2 & 7), 1 << (p3 & 7)
        p1, p2, p3 = p1 >> 3, p2 >> 3, p3 >> 3
        seen = bool(bits[p1] & b1 and bits[p2] & b2 and bits[p3] & b3)
        bits[p1] |= b1
        bits[p2] |= b2
        bits[p3] |= b3
        return seen


class Scratch:
    """One push run's scratch space; safe to use from the planner thread and the event loop
    (the cross-item state from the planner thread only)."""

    def __init__(self, directory: Path | None = None) -> None:
        handle, name = tempfile.mkstemp(prefix="catalog-ingest-push-", suffix=".db",
                                        dir=directory)
        os.close(handle)
        self.path = Path(name)
        self._db = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", f"cache_size=-{CACHE_KIB}",
                       "temp_store=FILE", "locking_mode=EXCLUSIVE"):
            self._db.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._pending = 0
        self._db.execute("BEGIN")
        self._bloom = Bloom()
        #: Records ``[0, store, SKU]`` (seen) and ``[1, store, barcode, SKU]`` (its owner).
        self._log = SpillLog(directory)

    def close(self) -> None:
        self._log.close()
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("COMMIT")
            self._db.close()
        self.path.unlink(missing_ok=True)

    def _tick(self) -> None:
        """Commit now and then: one long transaction would keep every page dirty in memory."""
        self._pending += 1
        if self._pending >= _BATCH:
            self._pending = 0
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")

    # --- CrossItemState ------------------------------------------------------------------------
    # Most SKUs and barcodes are new: the Bloom filter says so without reading the disk; only
    # a possible repeat is looked up. Only the planner thread uses these.

    def first_sku(self, store: str, sku: str) -> bool:
        h = hash((store, sku))
        record = b"\n" + _encode((0, store, sku))
        if self._bloom.add(h) and self._log.find(h, record[:-1]) is not None:
            return False
        self._log.add(h, record)
        return True

    def owners(self, store: str, codes: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for code in codes:
            h = hash((1, store, code))
            if not self._bloom.may_contain(h):
                continue
            rest = self._log.find(h, b"\n" + _encode((1, store, code))[:-1] + b",")
            if rest is not None:
                found[code] = msgspec.json.decode(rest[:-1], type=str)
        return found

    def claim(self, store: str, codes: Sequence[str], sku: str) -> None:
        for code in codes:
            h = hash((1, store, code))
            self._bloom.add(h)
            self._log.add(h, b"\n" + _encode((1, store, code, sku)))

    def flush(self) -> None:
        """Write the buffered cross-item records to disk."""
        self._log.spill()

    # --- uploads waiting for their reports -----------------------------------------------------

    def park(self, chunk: Chunk) -> None:
        """Move the chunk's per-item arrays to disk (until its report arrives)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO parked VALUES (?, ?, ?)",
                             (chunk.seq, chunk.refs.tobytes(), chunk.digests))
            self._tick()
        chunk.refs, chunk.digests = array("Q"), b""

    def unpark(self, chunk: Chunk) -> None:
        """Bring the chunk's arrays back (no-op for a chunk that was not parked)."""
        with self._lock:
            row = self._db.execute("SELECT refs, digests FROM parked WHERE seq = ?",
                                   (chunk.seq,)).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM parked WHERE seq = ?", (chunk.seq,))
            self._tick()
        refs = array("Q")
        refs.frombytes(row[0])
        chunk.refs, chunk.digests = refs, row[1]

    # --- --archive-missing ---------------------------------------------------------------------

    def add_present(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(SKU, store or "") of the source's rows."""
        self._fill("present", pairs)

    def add_known(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(SKU, store) of the items last accepted from this source."""
        self._fill("known", pairs)

    def _fill(self, table: str, pairs: Iterable[tuple[str, str]]) -> None:
        batch: list[tuple[str, str]] = []
        for pair in pairs:
            batch.append(pair)
            if len(batch) >= _BATCH:
                self._insert(table, batch)
                batch = []
        self._insert(table, batch)

    def _insert(self, table: str, batch: list[tuple[str, str]]) -> None:
        with self._lock:
            self._db.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?)", batch)
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")

    def missing(self, after: str, limit: int) -> dict[str, list[str]]:
        """The next ``limit`` SKUs (in order, after ``after``) known from the last pushes but in
        no row of the source, each with the stores it was known in."""
        with self._lock:
            skus = [r[0] for r in self._db.execute(
                "SELECT DISTINCT sku FROM known WHERE sku > ? AND sku NOT IN (SELECT sku FROM "
                "present) ORDER BY sku LIMIT ?", (after, limit))]
            found: dict[str, list[str]] = {sku: [] for sku in skus}
            for start in range(0, len(skus), 500):
                part = skus[start:start + 500]
                marks = ", ".join("?" * len(part))
                for sku, store in self._db.execute(
                        f"SELECT sku, store FROM known WHERE sku IN ({marks}) ORDER BY sku, store",
                        part):
                    found[sku].append(store)
        return found

    def partially_missing(self) -> int:
        """SKUs still in the source that left some of the stores they were known in."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(DISTINCT k.sku) FROM known k WHERE EXISTS (SELECT 1 FROM present "
                "p WHERE p.sku = k.sku) AND NOT EXISTS (SELECT 1 FROM present p WHERE "
                "p.sku = k.sku AND p.store = k.store)").fetchone()
        return int(row[0])

    def stores(self) -> list[str]:
        """Every store known or in the source, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT store FROM known UNION SELECT store FROM present "
                                    "WHERE store != '' ORDER BY 1").fetchall()
        return [r[0] for r in rows]
