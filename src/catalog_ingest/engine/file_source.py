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
        yield from sources.read_rows(info, sources.SourceOptions(delimiter=source.delimiter))
    except sources.SourceError as exc:
        raise refused(spec.name, exc) from None


def refused(name: str, exc: sources.SourceError) -> FileRefused:
    """A reader's error as the portal says it (a mapping is given in the form, not a flag)."""
    where = f" (row {exc.line})" if exc.line else ""
    reason = exc.reason.replace("a mapping file (--mapping FILE.toml)",
                                "a mapping (the Mapping box of the upload form)")
    reason = reason.replace(" (or give --store STORE_ID)", "")
    return FileRefused(f"{name}{where}: {reason}")
