"""Local validation: the service's own item rules (imported from domain.rules) over a source.

Per item, exactly what the service checks: the request model (``request_model_issues``), then
the stateless processing rules (``item_issues``). Over the whole source, the two rules the
service applies across the items of an upload, in source order as one long upload would be:
a (store, SKU) given again is DUPLICATE_SKU_IN_UPLOAD (even if its first occurrence was
invalid, as the service decides), and a barcode already taken by an earlier valid item of
another SKU in the store is BARCODE_CONFLICT. What only the service can know (barcodes held by
items that are not in the source) is left to its report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from catalog_ingest.domain import issues as codes
from catalog_ingest.domain.issues import Issue, error
from catalog_ingest.domain.rules import (
    is_request_model_valid,
    item_barcodes,
    item_issues,
    request_model_issues,
)
from catalog_ingest.files.columns import ColumnsError, check_columns
from catalog_ingest.files.crossitem import CrossItemState, MemoryState
from catalog_ingest.files.mangling import mangling_issues
from catalog_ingest.files.mapping import ItemMapping
from catalog_ingest.files.sources import FileInfo, Row, SourceOptions, read_rows

#: Local-only codes: a record that could not be read, a value a conversion could not handle.
UNREADABLE_ROW: Final = "UNREADABLE_ROW"
CONVERSION_FAILED: Final = "CONVERSION_FAILED"
_BARCODE_CODES: Final = frozenset((codes.INVALID_BARCODE, codes.INVALID_CHECK_DIGIT,
                                   codes.BARCODE_TYPE_MISMATCH, codes.INFERRED_BARCODE_TYPE))
PRIMARY: Final = "external_product_id"
ADDITIONAL: Final = "additional_external_product_information"


@dataclass(frozen=True, slots=True)
class Problem:
    """One issue of one source row, located by file and line."""

    file: str
    line: int
    store_id: str | None
    item_sku: str | None
    issue: Issue

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "store_id": self.store_id,
                "item_sku": self.item_sku, **self.issue.to_dict()}


@dataclass(slots=True)
class Checked:
    """A row after mapping and validation: the item, and its issues (errors make it invalid)."""

    row: Row
    item: Any
    issues: list[Issue]

    @property
    def valid(self) -> bool:
        return not any(i.is_error for i in self.issues)

    def problems(self) -> list[Problem]:
        store, sku = identity(self.item)
        return [Problem(self.row.file, self.row.line, store, sku, i) for i in self.issues]


def identity(item: Any) -> tuple[str | None, str | None]:
    """The item's (store_id, item_sku) when they are strings, for locating problems."""
    if not isinstance(item, dict):
        return None, None
    store, sku = item.get("store_id"), item.get("item_sku")
    return (store if isinstance(store, str) else None, sku if isinstance(sku, str) else None)


class SourceValidator:
    """Validates the items of a source in order; ``state`` keeps what the cross-item rules
    need (in memory by default; the push may keep it on disk, so its memory stays flat)."""

    def __init__(self, state: CrossItemState | None = None) -> None:
        self.state: CrossItemState = state or MemoryState()
        self._file: str | None = None

    def check(self, row: Row, mapping: ItemMapping) -> Checked:
        """The row mapped and validated; a ColumnsError (a SourceError) at the first row of a
        file whose columns cannot make items (see ``columns``)."""
        if row.file != self._file:
            self._file = row.file
            self.check_file_columns(row, mapping)
        if row.error is not None:
            return Checked(row, row.data, [error(UNREADABLE_ROW, None, row.error)])
        item, failures = mapping.apply(row.data, row.textual, row.typed)
        if failures:
            found = [error(CONVERSION_FAILED, name, f"cannot convert {name}: {message}", value)
                     for name, message, value in failures]
            return Checked(row, item, found)
        mangled = mangling_issues(row, item, mapping)
        if not mangled:
            return Checked(row, item, self.item_issues(item))
        return Checked(row, item, _merge(mangled, self.item_issues(item)))

    @staticmethod
    def check_file_columns(row: Row, mapping: ItemMapping) -> None:
        """Raise ColumnsError when the columns of the row's file cannot make items."""
        if row.header is not None:
            issue = check_columns(row.header, mapping)
        elif isinstance(row.data, dict):
            issue = check_columns(list(row.data), mapping, tabular=False)
        else:
            return
        if issue is not None:
            line = row.header_line if row.header is not None else row.line
            raise ColumnsError(row.file, line, issue)

    def item_issues(self, item: Any) -> list[Issue]:
        """The issues the service would give this item as the next one of the source."""
        if not is_request_model_valid(item):  # the fast path the service uses too
            return request_model_issues(item)
        store, sku = item["store_id"], item["item_sku"]
        if not self.state.first_sku(store, sku):
            message = f"SKU {sku} appears earlier in this source for store {store}"
            return [error(codes.DUPLICATE_SKU_IN_UPLOAD, "item_sku", message, sku)]
        found = item_issues(item)
        barcodes = item_barcodes(item)
        owners = self.state.owners(store, barcodes) if barcodes else {}
        for position, code in enumerate(barcodes):
            owner = owners.get(code)
            if owner is not None and owner != sku:
                found.append(_conflict(position, code, owner, store))
        if barcodes and (not found or not any(i.is_error for i in found)):
            self.state.claim(store, barcodes, sku)
        return found


def _merge(mangled: list[Issue], found: list[Issue]) -> list[Issue]:
    """The mangling issues first; a fatal one replaces the barcode rules' verdict on its field
    (the cause is named once, not as INVALID_BARCODE too)."""
    fatal = {i.field for i in mangled if i.is_error}
    kept = [i for i in found if not (i.field in fatal and i.code in _BARCODE_CODES)]
    return [*mangled, *kept]


def _conflict(position: int, code: str, owner: str, store: str) -> Issue:
    field = PRIMARY if position == 0 else f"{ADDITIONAL}[{position - 1}].{PRIMARY}"
    message = f"Barcode {code} already belongs to SKU {owner} in store {store}"
    return error(codes.BARCODE_CONFLICT, field, message, code)


def check_rows(infos: Iterable[FileInfo], mapping: ItemMapping,
               validator: SourceValidator | None = None) -> Iterator[Checked]:
    """Every row of the sources, mapped and validated, in order."""
    validator = validator or SourceValidator()
    options = mapping.source
    for info in infos:
        for row in read_rows(info, SourceOptions(delimiter=options.delimiter)):
            yield validator.check(row, mapping)
