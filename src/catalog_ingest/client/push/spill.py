"""A push's cross-item records on disk: hash-partitioned, appended in pieces, newest record wins.

The push remembers every (store, SKU) and every barcode's owner of a source, and looks one up
only when its Bloom filter says "maybe seen" (rarely). Writing those records into an indexed
SQLite table cost ~17 µs an item on the 2-core machine (2.4 B-tree inserts an item, each
through ``executemany``), a third of the push's planning time; appending them to a buffer
costs ~1 µs, and writing a spill's buffers as one row per partition little more. A lookup
reads one partition (a few tens of KiB at 1M items) and searches it from the newest end.
docs/decisions.md, "The push's scratch records and staged outcomes", has the measurements.

A record is ``\\n`` + a JSON array whose first elements are its key. JSON strings hold no raw
newline and end at an unescaped quote, so a key's prefix (the array without its closing
bracket) cannot match another key's record.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

#: Partitions; a lookup reads one of them (its buffer and its pieces on disk).
PARTITIONS = 2048
#: Records buffered in memory before they are written out, bytes in all.
SPILL_BYTES = 4 * 1024 * 1024
#: SQLite page cache of the file, KiB.
_CACHE_KIB = 1024


class SpillLog:
    """Records keyed by a prefix, in partitions: a buffer each, and on disk one piece per
    spill in a temporary SQLite file, a partition's pieces side by side (the table is
    clustered by partition), so a lookup is one range read.

    The caller gives the partition (any hash of the key): the push hashes each key once, for
    its Bloom filter and for this. One thread at a time."""

    def __init__(self, directory: Path | None = None, partitions: int = PARTITIONS,
                 spill_bytes: int = SPILL_BYTES) -> None:
        self._mask = partitions - 1
        if partitions & self._mask:
            raise ValueError("partitions must be a power of two")
        handle, name = tempfile.mkstemp(prefix="catalog-ingest-spill-", suffix=".db",
                                        dir=directory)
        os.close(handle)
        self.path = Path(name)
        self._db = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", f"cache_size=-{_CACHE_KIB}",
                       "locking_mode=EXCLUSIVE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE pieces (part INTEGER NOT NULL, spill INTEGER NOT NULL, "
                         "data BLOB NOT NULL, PRIMARY KEY (part, spill)) WITHOUT ROWID")
        self._spill_bytes = spill_bytes
        self._buffers = [bytearray() for _ in range(partitions)]
        self._written = bytearray(partitions)  # 1: the partition has pieces on disk
        self._pending = 0
        self._spills = 0

    def close(self) -> None:
        self._buffers.clear()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self.path.unlink(missing_ok=True)

    def add(self, key_hash: int, record: bytes) -> None:
        """Append ``record`` (``\\n`` + its JSON array) to the partition of ``key_hash``."""
        self._buffers[key_hash & self._mask] += record
        self._pending += len(record)
        if self._pending >= self._spill_bytes:
            self.spill()

    def find(self, key_hash: int, prefix: bytes) -> bytes | None:
        """The rest of the newest record starting with ``prefix``, or None."""
        part = key_hash & self._mask
        found = _after(self._buffers[part], prefix)
        if found is not None or not self._written[part]:
            return found
        pieces = self._db.execute("SELECT data FROM pieces WHERE part = ? ORDER BY spill DESC",
                                  (part,))
        for (data,) in pieces:
            found = _after(data, prefix)
            if found is not None:
                return found
        return None

    def spill(self) -> None:
        """Write every buffered record out, one piece per partition."""
        self._spills += 1
        # The buffers themselves are bound (as BLOBs): no copy of 4 MiB at the peak.
        rows = [(part, self._spills, buffer) for part, buffer in enumerate(self._buffers)
                if buffer]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO pieces VALUES (?, ?, ?)", rows)
        self._db.execute("COMMIT")
        for part, _, _ in rows:
            self._written[part] = 1
            self._buffers[part].clear()
        self._pending = 0


def _after(data: bytes | bytearray, prefix: bytes) -> bytes | None:
    at = data.rfind(prefix)
    if at < 0:
        return None
    start = at + len(prefix)
    end = data.find(b"\n", start)
    return bytes(data[start:end if end >= 0 else len(data)])
