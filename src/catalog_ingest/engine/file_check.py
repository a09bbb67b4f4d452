"""Check an uploaded catalog file before anything is submitted: every problem, and the effect.

The rows are read one at a time and checked with the service's own rules: the request model
(`domain.rules.request_model_issues`), the caller's stores, the stateless item rules
(`item_issues`), one (store, SKU) per file, and then, chunk by chunk of the uploads the file
will be submitted as, the planner itself (`engine.planner.plan_upload` over the catalog state
that `engine.processor.load_state` reads), which says CREATED / UPDATED / UNCHANGED and finds
barcodes held by another SKU exactly as processing will. Only a chunk of rows is in memory at
a time: the rows that pass go to a staging file, the problems to another, in row order.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from catalog_ingest.domain import issues as codes
from catalog_ingest.domain.issues import Issue, error
from catalog_ingest.domain.items import ADDITIONAL_IDS, MAX_ITEMS_PER_UPLOAD
from catalog_ingest.engine.file_source import (
    FileRefused,
    SourceSpec,
    detect_format,
    read,
    refused,
)
from catalog_ingest.engine.planner import CatalogState, Key, plan_upload
from catalog_ingest.engine.processor import gc_paused, load_state
from catalog_ingest.engine.staging import Staged
from catalog_ingest.files.records import Row, SourceError
from catalog_ingest.files.validate import SourceValidator
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from catalog_ingest.storage.catalog import CatalogRepo

UNREADABLE_ROW: Final = "UNREADABLE_ROW"
CONVERSION_FAILED: Final = "CONVERSION_FAILED"
UNKNOWN_STORE: Final = "UNKNOWN_STORE"
INVALID_TEXT: Final = "INVALID_TEXT"
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Problem:
    """One issue of one row of the file, located by row and column."""

    line: int
    column: str | None
    value: Any
    severity: str
    code: str
    message: str
    store_id: str | None = None
    item_sku: str | None = None


@dataclass
class CheckSummary:
    """What the check found and what submitting the valid rows would do to the catalog."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    errors: int = 0
    warnings: int = 0
    uploads: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    stores: list[str] = field(default_factory=list)


def _base_field(path: str | None) -> str | None:
    if path is None:
        return None
    return path.split("[", 1)[0].split(".", 1)[0]


class _Chunk:
    """Rows since the last plan, in order: (line, problems, index into `items` or None)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, list[Problem], Any]] = []
        self.items: list[dict[str, Any]] = []
        self.item_warnings: list[list[Issue]] = []
        #: Each item's JSON, made once for the text check and written as is when it passes.
        self.encoded: list[bytes] = []


class FileChecker:
    """Checks one file's rows in order and writes what passes and what does not."""

    def __init__(self, svc: Runtime, retailer_id: str, staged: Staged, spec: SourceSpec) -> None:
        self.svc, self.staged, self.spec = svc, staged, spec
        with svc.db.read() as conn:
            self.own_stores = {s.store_id for s in admin.retailer_stores(conn, retailer_id)}
        self.summary = CheckSummary()
        self.codes: Counter[str] = Counter()
        self.validator = SourceValidator()
        self.state = CatalogState()
        self.touched: set[Key] = set()
        self.chunk = _Chunk()
        self.stores_used: set[str] = set()
        self._valid = open(staged.valid, "wb")  # noqa: SIM115 - closed in finish()
        self._problems = open(staged.problems, "wb")  # noqa: SIM115

    def column(self, path: str | None) -> str | None:
        """The file's column for an item field (the mapping's source column when mapped)."""
        base = _base_field(path)
        mapping = self.spec.mapping
        if base is None or not mapping.columns:
            if base == ADDITIONAL_IDS and mapping.additional_ids:
                return ", ".join(a.column for a in mapping.additional_ids)
            return base
        if base in mapping.columns:
            return mapping.columns[base]
        if base in mapping.constants:
            return f"{base} (constant)"
        if base == ADDITIONAL_IDS and mapping.additional_ids:
            return ", ".join(a.column for a in mapping.additional_ids)
        return base

    def _problems_of(self, line: int, item: Any, found: Iterable[Issue]) -> list[Problem]:
        store = item.get("store_id") if isinstance(item, dict) else None
        sku = item.get("item_sku") if isinstance(item, dict) else None
        return [Problem(line, self.column(i.field), i.value, i.severity, i.code, i.message,
                        store if isinstance(store, str) else None,
                        sku if isinstance(sku, str) else None) for i in found]

    def add(self, row: Row) -> None:
        self.summary.rows += 1
        item, found, encoded = self._classify(row)
        if encoded is None:
            self.chunk.entries.append((row.line, self._problems_of(row.line, item, found), None))
            return
        self.chunk.entries.append((row.line, [], len(self.chunk.items)))
        self.chunk.items.append(item)
        self.chunk.item_warnings.append(found)
        self.chunk.encoded.append(encoded)
        if len(self.chunk.items) >= MAX_ITEMS_PER_UPLOAD:
            self.flush()

    def _classify(self, row: Row) -> tuple[Any, list[Issue], bytes | None]:
        """(item, issues, its JSON): rows with JSON passed and go on to the planner with their
        warnings; the others (None) failed with these issues.

        The row rules are `validate`'s and `push`'s own (files.validate.SourceValidator: the
        mapping, the request model, the item rules, spreadsheet damage, one SKU per file);
        the portal adds what only the service knows: the caller's stores.
        """
        checked = self.validator.check(row, self.spec.mapping)
        item = checked.item
        if not checked.valid:
            return item, checked.issues, None
        encoded = _storable_json(item)
        if encoded is None:
            return item, [_bad_text()], None
        store = item["store_id"]
        if store not in self.own_stores:
            yours = ", ".join(sorted(self.own_stores)) or "none"
            return item, [error(UNKNOWN_STORE, "store_id",
                                f"Store {store} is not one of your stores (yours: {yours})",
                                store)], None
        return item, checked.issues, encoded

    def flush(self) -> None:
        """Plan the chunk's items against the catalog and write the chunk out in row order."""
        chunk, self.chunk = self.chunk, _Chunk()
        results = self._plan(chunk.items, chunk.item_warnings) if chunk.items else []
        for line, problems, index in chunk.entries:
            if index is not None:
                result = results[index]
                problems = self._problems_of(line, chunk.items[index], result.issues)
                if result.status == "ACCEPTED":
                    self._accepted(line, chunk.items[index], chunk.encoded[index],
                                   result.action)
            if any(p.code == codes.BARCODE_CONFLICT for p in problems):
                self.summary.conflicts += 1  # held by another SKU: in the catalog or the file
            self._write_problems(problems)
            if index is None or results[index].status != "ACCEPTED":
                self.summary.invalid += 1

    def _plan(self, items: list[dict[str, Any]], warnings: list[list[Issue]]) -> list[Any]:
        with self.svc.db.read() as conn:
            fresh = load_state(CatalogRepo(conn), items)
        # Earlier chunks' plans moved barcodes: what they touched stays as they left it.
        for key, owner in fresh.owners.items():
            if key not in self.touched:
                self.state.owners[key] = owner
        self.state.items.update(fresh.items)
        self.state.rejected |= fresh.rejected
        plan = plan_upload(items, warnings, self.state, "check", time.time())
        self.touched.update(plan.owners_before)
        return plan.results

    def _accepted(self, line: int, item: dict[str, Any], encoded: bytes,
                  action: str | None) -> None:
        s = self.summary
        s.valid += 1
        if action == "CREATED":
            s.created += 1
        elif action == "UPDATED":
            s.updated += 1
        else:
            s.unchanged += 1
        self.stores_used.add(item["store_id"])
        self._valid.write(b"[%d," % line)  # the JSON of [line, item], item encoded once
        self._valid.write(encoded)
        self._valid.write(b"]\n")

    def _write_problems(self, problems: list[Problem]) -> None:
        for p in problems:
            self.codes[p.code] += 1
            if p.severity == "ERROR":
                self.summary.errors += 1
            else:
                self.summary.warnings += 1
            self._problems.write(_encode(p))
            self._problems.write(b"\n")

    def finish(self) -> CheckSummary:
        self.flush()
        self.close()
        s = self.summary
        s.codes = dict(self.codes.most_common())
        s.stores = sorted(self.stores_used)
        s.uploads = -(-s.valid // MAX_ITEMS_PER_UPLOAD)
        return s

    def close(self) -> None:
        self._valid.close()
        self._problems.close()


def _storable_json(item: dict[str, Any]) -> bytes | None:
    """The item as JSON; None when a string holds NUL or a lone surrogate, which no database
    stores (the API refuses them). The one encoding finds both: a lone surrogate cannot be
    encoded, a NUL is written as the escape \\u0000."""
    try:
        encoded = _encode(item)
    except UnicodeEncodeError:
        return None
    if b"\\u0000" in encoded and _has_nul(item):  # not just a literal backslash-u0000
        return None
    return encoded


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _bad_text() -> Issue:
    return error(INVALID_TEXT, None, "The row holds a NUL character or text that is not valid "
                 "Unicode, which cannot be stored")


def check_file(svc: Runtime, retailer_id: str, staged: Staged, spec: SourceSpec,
               mapping_text: str = "") -> CheckSummary:
    """Check the staged file; the summary is also kept in the staged folder's metadata."""
    fmt = detect_format(staged.source, spec.name, spec.format)
    checker = FileChecker(svc, retailer_id, staged, spec)
    try:
        with gc_paused():  # as for processing: no cyclic GC rescans of the live rows
            for row in read(staged.source, spec, fmt):
                checker.add(row)
            summary = checker.finish()
    except SourceError as exc:  # the columns cannot make items: said once, for the file
        checker.close()
        raise refused(spec.name, exc) from None
    except BaseException:
        checker.close()
        raise
    if summary.rows == 0:
        raise FileRefused(f"{spec.name} has no items: it holds a header at most. Add one row "
                          "per item (see the template).")
    meta = staged.read_meta()
    meta.update(state="CHECKED", name=spec.name, format=fmt, sheet=spec.sheet,
                mapping=mapping_text, summary=msgspec.to_builtins(summary), checked_at=time.time())
    staged.write_meta(meta)
    return summary


def read_problems(staged: Staged, severity: str = "", offset: int = 0,
                  limit: int = 200) -> tuple[list[Problem], bool]:
    """Problems `offset`.. of the staged check (only `severity` when given), and whether more."""
    out: list[Problem] = []
    skipped = 0
    decoder = msgspec.json.Decoder(Problem)
    with open(staged.problems, "rb") as lines:
        for raw in lines:
            problem = decoder.decode(raw)
            if severity and problem.severity != severity:
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(out) == limit:
                return out, True
            out.append(problem)
    return out, False
