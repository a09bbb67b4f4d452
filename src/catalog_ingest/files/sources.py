"""Reading a retailer's catalog files (CSV, JSON, JSON Lines, Excel), each row with its line.

``inspect`` settles how to read a file (format, encoding, sheet) and hashes it in one pass;
``read_rows`` streams its records. The CSV reader is here; JSON is in ``jsonfiles``, Excel
workbooks in ``excel``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from catalog_ingest.domain.spreadsheet import unprotect
from catalog_ingest.files import excel, jsonfiles
from catalog_ingest.files.records import ERROR_COLUMN, FileInfo, Row, SourceError, SourceOptions

FORMATS = ("csv", "json", "jsonl", "xlsx")
CSV_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 20
_CSV_EXTENSIONS = {".csv", ".tsv", ".tab"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
#: Bytes cp1252 leaves undefined: a file holding them is read as latin-1 instead.
_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")

__all__ = ["CSV_DELIMITERS", "ERROR_COLUMN", "FORMATS", "FileInfo", "Row", "SourceError",
           "SourceOptions", "bytes_read", "detect_format", "inspect", "inspect_bytes",
           "read_rows", "sniff_delimiter", "split_sheet"]


def split_sheet(path: Path) -> tuple[Path, str | None]:
    """``book.xlsx#Sheet2`` → (``book.xlsx``, ``"Sheet2"``) when ``book.xlsx#Sheet2`` itself
    is not a file but ``book.xlsx`` is; otherwise (path, None)."""
    name = path.name
    if "#" not in name or path.exists():
        return path, None
    stem, _, sheet = name.rpartition("#")
    base = path.with_name(stem)
    return (base, sheet or None) if stem and base.exists() else (path, None)


def inspect(path: Path, options: SourceOptions = SourceOptions()) -> FileInfo:
    """Hash ``path`` and settle its format, encoding and sheet (``book.xlsx#Sheet2`` names
    a sheet too); a SourceError names what is wrong (unreadable, unknown format, no such
    sheet: the error lists the sheets there are)."""
    path, sheet = split_sheet(path)
    try:
        with open(path, "rb") as raw:
            size, digest, head, is_utf8, holes = _scan(raw)
    except OSError as exc:
        raise SourceError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    info = _settle(path, str(path), size, digest, head, is_utf8, holes, options)
    return _with_sheet(info, sheet or options.sheet)


def inspect_bytes(data: bytes, name: str, options: SourceOptions = SourceOptions()) -> FileInfo:
    """:func:`inspect` for a file held in memory (an upload); ``name`` gives its extension."""
    size, digest, head, is_utf8, holes = _scan(io.BytesIO(data))
    path = Path(name)
    info = _settle(path, name, size, digest, head, is_utf8, holes, options, data)
    return _with_sheet(info, options.sheet)


def _scan(raw: IO[bytes]) -> tuple[int, str, bytes, bool, bool]:
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, holes, head, size = True, False, b"", 0
    while block := raw.read(_BLOCK):
        if not head:
            head = block[:65536]
        size += len(block)
        digest.update(block)
        if is_utf8:
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                is_utf8 = False
        holes = holes or bool(_CP1252_HOLES.search(block))
    return size, digest.hexdigest(), head, is_utf8, holes


def _settle(path: Path, name: str, size: int, digest: str, head: bytes, is_utf8: bool,
            holes: bool, options: SourceOptions, content: bytes | None = None) -> FileInfo:
    if head.startswith(excel.OLE_MAGIC):
        raise SourceError(name, None, "an old binary Excel file (.xls): save it as an Excel "
                          "workbook (.xlsx) or as CSV")
    binary = head.startswith(excel.ZIP_MAGIC)
    encoding = "binary" if binary else options.encoding or _encoding(head, is_utf8, holes)
    fmt = options.format or ("xlsx" if binary else detect_format(path, head, encoding))
    if fmt not in FORMATS:
        raise SourceError(name, None, f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if binary and fmt != "xlsx":
        raise SourceError(name, None, f"the file is a zip archive (an Excel workbook?), not {fmt}")
    if fmt == "xlsx" and not binary:
        raise SourceError(name, None, "the file is not an Excel workbook (.xlsx)")
    return FileInfo(path, name, size, digest, fmt, encoding, content=content)


def _with_sheet(info: FileInfo, sheet: str | None) -> FileInfo:
    if info.format != "xlsx":
        return info
    chosen = excel.choose_sheet(_book(info), info.name, sheet)
    return FileInfo(info.path, info.name, info.size, info.sha256, info.format, info.encoding,
                    chosen, info.content)


def _book(info: FileInfo) -> excel.Book:
    return info.path if info.content is None else io.BytesIO(info.content)


def _encoding(head: bytes, is_utf8: bool, holes: bool) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if is_utf8:
        return "utf-8"
    return "latin-1" if holes else "cp1252"


def detect_format(path: Path, head: bytes, encoding: str) -> str:
    """xlsx or CSV by extension; otherwise JSON array/object, JSON Lines or CSV by content."""
    suffix = path.suffix.lower()
    if suffix in excel.EXTENSIONS:
        return "xlsx"
    if suffix in _CSV_EXTENSIONS:
        return "csv"
    text = head.decode(encoding, errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if not text.startswith("{"):
        return "csv"
    first, newline, _ = text.partition("\n")
    if not newline:
        return "json"
    try:
        obj = msgspec.json.decode(first.encode())
    except msgspec.DecodeError:
        return "json"  # the first object spans several lines: one JSON document
    return "json" if isinstance(obj, dict) and "catalogItems" in obj else "jsonl"


def read_rows(info: FileInfo, options: SourceOptions = SourceOptions()) -> Iterator[Row]:
    """Every record of the file, in order; a SourceError when the file cannot be read on."""
    if info.format == "xlsx":
        yield from excel.sheet_rows(_book(info), info.name, info.sheet, info.size)
        return
    with info.open() as raw:
        text = io.TextIOWrapper(raw, encoding=info.encoding, newline="")
        try:
            if info.format == "csv":
                yield from _csv_rows(text, info.name, options.delimiter)
            elif info.format == "jsonl" and info.encoding in ("utf-8", "utf-8-sig"):
                yield from jsonfiles.jsonl_bytes(raw, info.name)
            elif info.format == "jsonl":
                yield from jsonfiles.jsonl_rows(text, info.name)
            else:
                yield from jsonfiles.json_rows(text, info.name)
        except UnicodeDecodeError as exc:
            raise SourceError(info.name, None, f"not {info.encoding} text: {exc}") from exc


def bytes_read(stream: IO[Any]) -> int:
    """How far into its file a source stream has read (for progress)."""
    return int(stream.buffer.tell()) if hasattr(stream, "buffer") else 0


# --- CSV ---------------------------------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(text: io.TextIOWrapper, name: str, delimiter: str | None) -> Iterator[Row]:
    head = text.readline()
    if not head:
        return
    delimiter = delimiter or sniff_delimiter(head)
    reader = csv.reader(_chain(head, text), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
        _check_header(header, name)
        if ERROR_COLUMN in header:
            yield from _errors_file_rows(reader, name, header)
            return
        columns = tuple(header)
        previous = reader.line_num
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cells):
                continue
            yield _csv_row(name, line, header, cells, columns)
    except csv.Error as exc:
        raise SourceError(name, reader.line_num, f"unreadable CSV: {exc}") from exc


def _errors_file_rows(reader: Any, name: str, header: list[str]) -> Iterator[Row]:
    """The rows of an errors-only file written by ``writers``: without its error column, and
    with the ``'`` it put before formula leads taken off again."""
    skip = header.index(ERROR_COLUMN)
    kept = [c for i, c in enumerate(header) if i != skip]
    columns = tuple(kept)
    previous = reader.line_num
    for cells in reader:
        line, previous = previous + 1, reader.line_num
        values = [unprotect(c) for i, c in enumerate(cells) if i != skip]
        if not any(values):
            continue
        yield _csv_row(name, line, kept, values, columns)


def _chain(first: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first
    yield from rest


def _check_header(header: list[str], name: str) -> None:
    seen: set[str] = set()
    for cell in header:
        if not cell:
            raise SourceError(name, 1, "the header row has an empty column name")
        if cell in seen:
            raise SourceError(name, 1, f"the header row names column {cell!r} twice")
        seen.add(cell)


def _csv_row(name: str, line: int, header: list[str], cells: list[str],
             columns: tuple[str, ...]) -> Row:
    data = dict(zip(header, cells, strict=False))
    if len(cells) > len(header) and any(cells[len(header):]):
        message = f"the row has {len(cells)} cells but the header has {len(header)} columns"
        return Row(name, line, data, textual=True, error=message, header=columns)
    return Row(name, line, data, textual=True, header=columns)
