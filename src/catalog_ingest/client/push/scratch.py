"""A push's scratch space on disk (a temporary SQLite file): what would otherwise grow with the
catalog in memory.

- the cross-item validation state (every (store, SKU) seen, every barcode's owner), as the
  ``CrossItemState`` of ``validate.SourceValidator``;
- the per-item locations and content hashes of uploads waiting for their reports (``park`` /
  ``unpark``): 24 bytes an item that need not stay in memory while the service works;
- for ``--archive-missing``, the source's SKUs and the SKUs the tracking database knows.

The file is private to one run (deleted on close) and written without durability: a push
that dies simply plans again from the sources when resumed. Its page cache is small and
fixed, so the push's memory does not depend on the size of the catalog.
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

from catalog_ingest.client.push.chunking import Chunk

_SCHEMA = (
    "CREATE TABLE skus (store TEXT NOT NULL, sku TEXT NOT NULL, PRIMARY KEY (store, sku))"
    " WITHOUT ROWID",
    "CREATE TABLE owners (store TEXT NOT NULL, code TEXT NOT NULL, sku TEXT NOT NULL,"
    " PRIMARY KEY (store, code)) WITHOUT ROWID",
    "CREATE TABLE parked (seq INTEGER PRIMARY KEY, refs BLOB NOT NULL, digests BLOB NOT NULL)",
    "CREATE TABLE present (sku TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (sku, store))"
    " WITHOUT ROWID",
    "CREATE TABLE known (sku TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (sku, store))"
    " WITHOUT ROWID",
)
#: SQLite page cache of the scratch file, KiB (negative: a size, not a page count).
CACHE_KIB = 8 * 1024
#: Rows written at a time (new SKUs and owners are held in memory until then).
_BATCH = 5000


class Bloom:
    """A fixed-size Bloom filter over hashable keys (Python's own hash: one process only).

    2**27 bits (16 MiB) and 3 probes: about 0.2% false positives at 6M keys (2M items with
    their barcodes), degrading slowly beyond; a false positive only costs a lookup. The
    probes are written out: this runs several times per item."""

    def __init__(self, bits_log2: int = 27) -> None:
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))

    def may_contain(self, key: object) -> bool:
        h = hash(key)
        step, mask, bits = (h >> 31) | 1, self._mask, self._bits
        p1, p2, p3 = h & mask, (h + step) & mask, (h + 2 * step) & mask
        return bool(bits[p1 >> 3] & (1 << (p1 & 7)) and bits[p2 >> 3] & (1 << (p2 & 7))
                    and bits[p3 >> 3] & (1 << (p3 & 7)))

    def add(self, key: object) -> bool:
        """Add ``key``; True when it may have been added before."""
        h = hash(key)
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
    """One push run's scratch file; safe to use from the planner thread and the event loop."""

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
        #: Written in batches: (store, SKU) seen, and (store, barcode) → owning SKU.
        self._new_skus: dict[tuple[str, str], None] = {}
        self._new_owners: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self._new_skus.clear()
        self._new_owners.clear()
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
    # Most SKUs and barcodes are new: the Bloom filter says so without reading the file, and
    # new entries are written in batches; only a possible repeat is looked up.

    def first_sku(self, store: str, sku: str) -> bool:
        key = (store, sku)
        if self._bloom.add(key) and self._seen_sku(key):
            return False
        self._new_skus[key] = None
        self._flush_if_full()
        return True

    def owners(self, store: str, codes: Sequence[str]) -> dict[str, str]:
        maybe = [code for code in codes if self._bloom.may_contain((store, "#" + code))]
        if not maybe:
            return {}
        found = {code: self._new_owners[(store, code)] for code in maybe
                 if (store, code) in self._new_owners}
        rest = [code for code in maybe if code not in found]
        if rest:
            marks = ", ".join("?" * len(rest))
            with self._lock:
                found.update(self._db.execute(
                    f"SELECT code, sku FROM owners WHERE store = ? AND code IN ({marks})",
                    (store, *rest)).fetchall())
        return found

    def claim(self, store: str, codes: Sequence[str], sku: str) -> None:
        for code in codes:
            self._bloom.add((store, "#" + code))
            self._new_owners[(store, code)] = sku
        self._flush_if_full()

    def _seen_sku(self, key: tuple[str, str]) -> bool:
        if key in self._new_skus:
            return True
        with self._lock:
            return self._db.execute("SELECT 1 FROM skus WHERE store = ? AND sku = ?",
                                    key).fetchone() is not None

    def _flush_if_full(self) -> None:
        if len(self._new_skus) + len(self._new_owners) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the batched new SKUs and barcode owners to the file."""
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO skus VALUES (?, ?)", self._new_skus)
            self._db.executemany("INSERT OR REPLACE INTO owners VALUES (?, ?, ?)",
                                 ((s, c, k) for (s, c), k in self._new_owners.items()))
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
        self._new_skus.clear()
        self._new_owners.clear()

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
