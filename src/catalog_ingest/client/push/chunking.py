"""Planning a push: source rows → mapped, validated items → per-store chunks of ≤ 10,000 items.

Chunks depend only on the sources, the mapping, the options and (with --delta) the items the
tracking database knows, so planning a push again yields the very same chunks in the same
order: that is what makes ``push --resume`` and the content-derived Idempotency-Keys work.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from catalog_ingest.client.push.mapping import ItemMapping
from catalog_ingest.client.push.sources import FileInfo, SourceError, SourceOptions, read_rows
from catalog_ingest.client.push.validate import (
    CrossItemState,
    Problem,
    SourceValidator,
    identity,
)
from catalog_ingest.domain.issues import error
from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD

#: Default cap of an upload body: under the service's default 10 MiB limit, with room to spare.
DEFAULT_MAX_BODY = 9 * 1024 * 1024
SOURCE_UNREADABLE = "SOURCE_UNREADABLE"
_PREFIX, _SUFFIX = b'{"catalogItems":[', b"]}"
_DELTA_BATCH = 2000
_encode = msgspec.json.Encoder(order="sorted").encode

#: The tracking database's last accepted content hash of each of these SKUs of a store.
DeltaBasis = Callable[[str, Sequence[str]], dict[str, bytes]]


class Cancelled(Exception):
    """Planning was stopped (the push is being interrupted)."""


class PlanObserver(Protocol):
    def rows_read(self, rows: int, done_bytes: int) -> None: ...

    def problem(self, problem: Problem) -> None: ...


@dataclass
class Chunk:
    """One upload (or archive) request of a push, ready to send."""

    seq: int
    kind: str
    store_id: str | None
    body: bytes
    fingerprint: str
    item_count: int
    #: Per item: (file index << 32) | line, to locate report results in the sources.
    refs: array[int] = field(default_factory=lambda: array("Q"))
    #: Per item: 16-byte content hash (for --delta), concatenated.
    digests: bytes = b""
    skus: list[str] = field(default_factory=list)

    def row(self, index: int, files: Sequence[str]) -> tuple[str, int] | None:
        if index < 0 or index >= len(self.refs):
            return None
        ref = self.refs[index]
        return files[ref >> 32], ref & 0xFFFFFFFF

    def digest(self, index: int) -> bytes:
        return self.digests[index * 16:(index + 1) * 16]

    def where(self, index: int, files: Sequence[str]) -> str | None:
        found = self.row(index, files)
        return f"{found[0]}:{found[1]}" if found else None


def idempotency_key(endpoint: str, body: bytes, salt: str = "") -> str:
    """The chunk's Idempotency-Key: SHA-256 over the endpoint (and salt) and the exact body."""
    digest = hashlib.sha256(endpoint.encode() + b"\n" + salt.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def content_hash(encoded: bytes) -> bytes:
    return hashlib.blake2b(encoded, digest_size=16).digest()


@dataclass
class _Store:
    pending: list[tuple[bytes, bytes, int, str]] = field(default_factory=list)
    ready: list[tuple[bytes, bytes, int, str]] = field(default_factory=list)
    ready_bytes: int = 0


@dataclass
class PlanStats:
    rows: int = 0
    invalid: int = 0
    unchanged: int = 0
    #: Per store: valid rows, and rows skipped by --delta as unchanged.
    valid_by_store: dict[str, int] = field(default_factory=dict)
    unchanged_by_store: dict[str, int] = field(default_factory=dict)
    invalid_by_store: dict[str | None, int] = field(default_factory=dict)
    #: Some source could not be read to its end (then nothing may be archived).
    incomplete: bool = False


class ChunkPlanner:
    """Reads the sources and yields chunks; problems and progress go to the observer."""

    def __init__(self, files: Sequence[FileInfo], mapping: ItemMapping, observer: PlanObserver,
                 *, chunk_size: int = MAX_ITEMS_PER_UPLOAD, max_body: int = DEFAULT_MAX_BODY,
                 delta: DeltaBasis | None = None, stop: threading.Event | None = None,
                 first_seq: int = 1, state: CrossItemState | None = None) -> None:
        if not 1 <= chunk_size <= MAX_ITEMS_PER_UPLOAD:
            raise ValueError(f"chunk size must be 1 to {MAX_ITEMS_PER_UPLOAD}")
        self.files, self.mapping, self.observer = list(files), mapping, observer
        self.chunk_size, self.max_body, self.delta = chunk_size, max_body, delta
        self.stop = stop or threading.Event()
        self.state = state
        self.stats = PlanStats()
        self._stores: dict[str, _Store] = {}
        self._seq = first_seq - 1

    def chunks(self) -> Iterator[Chunk]:
        validator = SourceValidator(self.state)
        for index, info in enumerate(self.files):
            try:
                for row in read_rows(info, SourceOptions(delimiter=self.mapping.source.delimiter)):
                    self.stats.rows += 1
                    if self.stats.rows % 1000 == 0:
                        self._progress(index)
                    checked = validator.check(row, self.mapping)
                    if checked.issues:
                        for problem in checked.problems():
                            self.observer.problem(problem)
                        if not checked.valid:
                            self._invalid(identity(checked.item)[0])
                            continue
                    yield from self._add(checked.item, (index << 32) | row.line)
            except SourceError as exc:
                self.stats.incomplete = True
                self.observer.problem(Problem(exc.file, exc.line or 0, None, None,
                                              error(SOURCE_UNREADABLE, None, exc.reason)))
        self._progress(len(self.files))
        for store_id in sorted(self._stores):
            yield from self._flush(store_id, final=True)

    def _progress(self, file_index: int) -> None:
        if self.stop.is_set():
            raise Cancelled
        done = sum(f.size for f in self.files[:file_index])
        self.observer.rows_read(self.stats.rows, done)

    def _invalid(self, store: str | None) -> None:
        self.stats.invalid += 1
        self.stats.invalid_by_store[store] = self.stats.invalid_by_store.get(store, 0) + 1

    def _add(self, item: dict[str, Any], ref: int) -> Iterator[Chunk]:
        store_id = item["store_id"]
        encoded = _encode(item)
        entry = (encoded, content_hash(encoded), ref, item["item_sku"])
        buffer = self._stores.get(store_id)
        if buffer is None:
            buffer = self._stores[store_id] = _Store()
        self.stats.valid_by_store[store_id] = self.stats.valid_by_store.get(store_id, 0) + 1
        if self.delta is None:
            buffer.ready.append(entry)
            buffer.ready_bytes += len(encoded) + 1
        else:
            buffer.pending.append(entry)
            if len(buffer.pending) >= _DELTA_BATCH:
                self._filter(store_id, buffer)
        yield from self._flush(store_id, final=False)

    def _filter(self, store_id: str, buffer: _Store) -> None:
        """Move the pending items whose content changed (or is new) to the ready list."""
        assert self.delta is not None
        known = self.delta(store_id, [sku for _, _, _, sku in buffer.pending])
        for entry in buffer.pending:
            if known.get(entry[3]) == entry[1]:
                self.stats.unchanged += 1
                counts = self.stats.unchanged_by_store
                counts[store_id] = counts.get(store_id, 0) + 1
                continue
            buffer.ready.append(entry)
            buffer.ready_bytes += len(entry[0]) + 1
        buffer.pending.clear()

    def _flush(self, store_id: str, final: bool) -> Iterator[Chunk]:
        buffer = self._stores[store_id]
        if final and buffer.pending:
            self._filter(store_id, buffer)
        limit = self.max_body - len(_PREFIX) - len(_SUFFIX)
        while buffer.ready and (final or len(buffer.ready) >= self.chunk_size
                                or buffer.ready_bytes >= limit):
            count, size = 0, 0
            for encoded, *_ in buffer.ready[:self.chunk_size]:
                if count and size + len(encoded) + 1 > limit:
                    break
                count, size = count + 1, size + len(encoded) + 1
            taken = buffer.ready[:count]
            del buffer.ready[:count]
            buffer.ready_bytes -= size
            yield self._chunk(store_id, taken)

    def _chunk(self, store_id: str, entries: list[tuple[bytes, bytes, int, str]]) -> Chunk:
        body = _PREFIX + b",".join(e[0] for e in entries) + _SUFFIX
        self._seq += 1
        return Chunk(self._seq, "UPLOAD", store_id, body, hashlib.sha256(body).hexdigest(),
                     len(entries), array("Q", (e[2] for e in entries)),
                     b"".join(e[1] for e in entries))


class _Body(msgspec.Struct):
    catalogItems: list[msgspec.Raw]


def half_seq(seq: int, second: bool) -> int:
    """The sequence number of a half of chunk ``seq`` (split after a 413).

    The low 32 bits are the planned chunk's number, the high bits the node in the binary
    tree of its halves (0 for the planned chunk itself): deterministic, so a resumed push
    finds the halves it sent before."""
    root, node = seq & 0xFFFFFFFF, (seq >> 32) + 1
    return ((2 * node + int(second) - 1) << 32) | root


def split_chunk(chunk: Chunk) -> tuple[Chunk, Chunk]:
    """The two halves of an upload chunk of two items or more, each a request of its own."""
    items = msgspec.json.decode(chunk.body, type=_Body).catalogItems
    middle = len(items) // 2
    halves = []
    for second, part, refs, digests in (
            (False, items[:middle], chunk.refs[:middle], chunk.digests[:middle * 16]),
            (True, items[middle:], chunk.refs[middle:], chunk.digests[middle * 16:])):
        body = _PREFIX + b",".join(bytes(raw) for raw in part) + _SUFFIX
        halves.append(Chunk(half_seq(chunk.seq, second), "UPLOAD", chunk.store_id, body,
                            hashlib.sha256(body).hexdigest(), len(part), refs, digests))
    return halves[0], halves[1]


def archive_chunks(skus: Sequence[str], stores: Sequence[str], first_seq: int = 1,
                   size: int = MAX_ITEMS_PER_UPLOAD) -> list[Chunk]:
    """Archive requests for ``skus`` (sorted) in ``stores``, at most ``size`` SKUs each."""
    out = []
    ordered = sorted(skus)
    for n, start in enumerate(range(0, len(ordered), size)):
        part = ordered[start:start + size]
        out.append(archive_chunk(first_seq + n, part, stores))
    return out


def archive_chunk(seq: int, skus: list[str], stores: Sequence[str]) -> Chunk:
    body = _encode({"itemSkus": skus, "allApplicableStores": sorted(stores)})
    fingerprint = hashlib.sha256("\n".join(skus).encode()).hexdigest()
    return Chunk(seq, "ARCHIVE", None, body, fingerprint, len(skus), skus=skus)


class SourceScan:
    """Every (SKU, store or "") of the sources' rows, valid or not, for --archive-missing.

    ``complete`` ends false when some row could not be read or named no SKU: then nothing may
    be archived, since a SKU that is in the source might look missing."""

    def __init__(self, files: Sequence[FileInfo], mapping: ItemMapping) -> None:
        self.files, self.mapping = list(files), mapping
        self.complete = True

    def __iter__(self) -> Iterator[tuple[str, str]]:
        options = SourceOptions(delimiter=self.mapping.source.delimiter)
        for info in self.files:
            try:
                for row in read_rows(info, options):
                    item = (None if row.error is not None
                            else self.mapping.apply(row.data, row.textual)[0])
                    store, sku = identity(item)
                    if sku is None:
                        self.complete = False
                        continue
                    yield sku, store or ""
            except SourceError:
                self.complete = False
                return


def source_items(files: Sequence[FileInfo], mapping: ItemMapping
                 ) -> tuple[dict[str, set[str]], bool]:
    """Every SKU of the sources with the stores it appears in, and whether the scan was
    complete (see SourceScan; in memory: the push itself streams the scan to disk)."""
    present: dict[str, set[str]] = {}
    scan = SourceScan(files, mapping)
    for sku, store in scan:
        present.setdefault(sku, set()).add(store)
    return present, scan.complete
