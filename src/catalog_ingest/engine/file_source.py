"""Reading an uploaded catalog file for the portal's check, with the readers `push` uses.

This is the one place the engine reaches the file readers and the mapping; everything that
cannot be read becomes a `FileRefused` whose message says, for a person, what is wrong and
what to do.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from catalog_ingest.domain.items import KNOWN_FIELDS
from catalog_ingest.errors import InvalidInput
from catalog_ingest.files import mapping as mapping_mod
from catalog_ingest.files import sources
from catalog_ingest.files.mapping import IDENTITY, ItemMapping, MappingError
from catalog_ingest.files.records import Row

FORMATS: Final = ("csv", "json", "jsonl", "xlsx")
_EXTENSIONS: Final = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json",
                      ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_ZIP_MAGIC: Final = b"PK\x03\x04"


class FileRefused(InvalidInput):
    """A file the check cannot read at all; the message is for the person who uploaded it."""


@dataclass(frozen=True)
class SourceSpec:
    """How to read one uploaded file: its original name, format (None: detect), sheet, mapping."""

    name: str
    format: str | None = None
    sheet: str | None = None
    mapping: ItemMapping = field(default_factory=lambda: IDENTITY)


def parse_mapping_text(text: str) -> ItemMapping:
    """A mapping given as TOML text (the `push --mapping` format); FileRefused when invalid."""
    if not text.strip():
        return IDENTITY
    try:
        return mapping_mod.parse_mapping(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise FileRefused(f"The mapping is not valid TOML: {exc}") from None
    except MappingError as exc:
        raise FileRefused(f"The mapping is not valid: {exc}") from None


def detect_format(path: Path, name: str, declared: str | None) -> str:
    """The file's format: the declared one, else by extension, else by its first bytes."""
    with open(path, "rb") as raw:
        head = raw.read(65536)
    if not head.strip():
        raise FileRefused("The file is empty: choose a CSV, JSON, JSON Lines or Excel file "
                          "with a header row and at least one item.")
    fmt = declared or _EXTENSIONS.get(Path(name).suffix.lower())
    if fmt == "xlsx" or (fmt is None and head.startswith(_ZIP_MAGIC)):
        if not head.startswith(_ZIP_MAGIC):
            raise FileRefused(f"{name} is not an Excel workbook (.xlsx/.xlsm): save it from "
                              "Excel as an .xlsx workbook, or as CSV.")
        return "xlsx"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(f"{name} is not a catalog file: it is neither text (CSV, JSON, "
                          "JSON Lines) nor an Excel workbook.")
    if fmt is not None and fmt not in FORMATS:
        raise FileRefused(f"Unknown format {fmt!r}: one of {', '.join(FORMATS)}.")
    return fmt or _sniff(path, name)


def _sniff(path: Path, name: str) -> str:
    try:
        return sources.inspect(path).format
    except sources.SourceError as exc:
        raise FileRefused(f"{name}: {exc.reason}") from None


def read(path: Path, spec: SourceSpec, fmt: str) -> Iterator[Row]:
    """Every record of the file in order; FileRefused when the file cannot be read on."""
    source = spec.mapping.source
    try:
        info = sources.inspect(path, sources.SourceOptions(
            format=fmt, encoding=source.encoding, sheet=spec.sheet))
        first = True
        for row in sources.read_rows(info, sources.SourceOptions(delimiter=source.delimiter)):
            if first and row.header is not None:
                check_columns(list(row.header), spec.mapping, spec.name)
            first = False
            yield row
    except sources.SourceError as exc:
        where = f" (row {exc.line})" if exc.line else ""
        raise FileRefused(f"{spec.name}{where}: {exc.reason}") from None


def check_columns(columns: list[str], mapping: ItemMapping, name: str) -> None:
    """Refuse, once, a file none of whose columns is a catalog field when there is no mapping."""
    if mapping.columns or any(c in KNOWN_FIELDS for c in columns):
        return
    shown = ", ".join(columns[:8]) + (", …" if len(columns) > 8 else "")
    raise FileRefused(
        f"No column of {name} matches a catalog field (its columns: {shown}). Rename the "
        "columns to the API's field names (item_sku, external_product_id, item_name, "
        "store_id, …) as in the template, or give a mapping such as:\n"
        '[columns]\nitem_sku = "sku"\nexternal_product_id = "barcode"\nitem_name = "name"\n'
        'store_id = "store"\nstandard_price = "price"')
