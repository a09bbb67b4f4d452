"""One catalog file read, mapped and validated row by row: the portal's entry point."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_ingest.domain.issues import Issue
from catalog_ingest.files.mapping import IDENTITY, ItemMapping, load_mapping
from catalog_ingest.files.records import FileInfo, SourceError, SourceOptions
from catalog_ingest.files.sources import inspect, inspect_bytes, read_rows
from catalog_ingest.files.validate import SourceValidator


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """One row of a catalog file after mapping and validation.

    Unpacks as ``row_number, item, problems``. ``item`` is the API item (a dict, or the
    record as read when it is not an object); ``problems`` are its issues, errors and
    warnings, in report order (any error: the row is not valid). ``cells`` is the row as
    read (column → value; for JSON the record), which is what an errors-only file is written
    from; ``header`` the file's columns (None for JSON).
    """

    row_number: int
    item: Any
    problems: list[Issue]
    cells: Any
    header: tuple[str, ...] | None

    @property
    def valid(self) -> bool:
        return not any(p.is_error for p in self.problems)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.row_number, self.item, self.problems))


def open_catalog(source: Path | str | bytes, filename: str | None = None, *,
                 sheet: str | None = None, mapping: ItemMapping | None = None) -> FileInfo:
    """Inspect a catalog file: a path, or its bytes with ``filename`` (for the extension).

    Settles format (csv, json, jsonl, xlsx), encoding and sheet; raises SourceError for a
    file that cannot be read, an empty file, a wrong sheet name (the message lists the sheets) or an
    unknown format. ``mapping``'s ``[source]`` table (format, encoding, delimiter, sheet)
    applies; ``sheet`` wins over it, and ``book.xlsx#Sheet2`` names a sheet too.
    """
    base = (mapping or IDENTITY).source
    options = SourceOptions(base.format, base.encoding, base.delimiter, sheet or base.sheet)
    if isinstance(source, bytes):
        if not source:
            raise SourceError(filename or "upload", None, "the file is empty")
        return inspect_bytes(source, filename or "upload", options)
    info = inspect(Path(source), options)
    if info.size == 0:
        raise SourceError(info.name, None, "the file is empty")
    return info


def read_catalog(source: Path | str | bytes | FileInfo, filename: str | None = None, *,
                 mapping: ItemMapping | Path | None = None, sheet: str | None = None,
                 store: str | None = None) -> Iterator[CatalogRow]:
    """Every row of a catalog file, mapped and validated with the service's own rules.

    ``source``: a path, a file's bytes (then ``filename`` gives its extension: ``x.xlsx``),
    or a FileInfo from :func:`open_catalog`. ``mapping``: an ItemMapping, a mapping file
    (TOML) or None (the file's columns are the API's field names). ``sheet``: the worksheet
    of a workbook (default: the first). ``store``: store_id for every row (like ``--store``).

    Rows come in file order, streamed (a 1,000,000-row file is never held in memory), each
    with its file row number (CSV: the line it starts on; JSON: the line of its first
    character; xlsx: the sheet row). Checks are those of ``catalog-ingest validate``: the
    request model, the item rules, duplicates and barcode conflicts within the file, values
    a conversion could not handle, barcodes a spreadsheet mangled.

    Raises SourceError (``catalog_ingest.files.SourceError``; ``.code``, ``.reason``,
    ``.line``) at once when the file cannot be opened or the sheet does not exist (the
    message lists the sheets), and while iterating when the file cannot be read on (a JSON
    syntax error; rows before it were yielded) or, before the first row, when its columns
    cannot make items (``ColumnsError``: ``.code`` NO_MATCHING_COLUMNS or MISSING_COLUMNS,
    ``.issue``, a message with a mapping snippet). MappingError for a bad mapping file.
    """
    rule = load_mapping(mapping) if isinstance(mapping, Path) else mapping or IDENTITY
    rule = rule.with_store(store)
    info = source if isinstance(source, FileInfo) else open_catalog(source, filename,
                                                                     sheet=sheet, mapping=rule)
    return _rows(info, rule)


def _rows(info: FileInfo, mapping: ItemMapping) -> Iterator[CatalogRow]:
    validator = SourceValidator()
    for row in read_rows(info, SourceOptions(delimiter=mapping.source.delimiter)):
        checked = validator.check(row, mapping)
        yield CatalogRow(row.line, checked.item, checked.issues, row.data, row.header)
