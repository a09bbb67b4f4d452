"""Reading a retailer's catalog files (CSV, JSON, JSON Lines), each row with its file and line."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from catalog_ingest.errors import CatalogIngestError

FORMATS = ("csv", "json", "jsonl")
CSV_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 20
_MAX_VALUE = 16 << 20
_CSV_EXTENSIONS = {".csv", ".tsv", ".tab"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
#: Bytes cp1252 leaves undefined: a file holding them is read as latin-1 instead.
_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_WS = re.compile(r"[ \t\n\r]*")


class SourceError(CatalogIngestError):
    """A source file that cannot be read (any further): the file and line say where."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.reason = file, line, message


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read sources; None means detect (format by extension/content, encoding, delimiter)."""

    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One source file as inspected before reading: identity (sha256) and how to read it."""

    path: Path
    name: str
    size: int
    sha256: str
    format: str
    encoding: str


@dataclass(slots=True)
class Row:
    """One record: ``data`` is a dict of strings for CSV, any JSON value for JSON sources.

    ``error`` is set when the record could not be read (the row is then invalid), and
    ``textual`` says that empty strings mean "no value" (CSV cannot tell them apart).
    """

    file: str
    line: int
    data: Any
    textual: bool = False
    error: str | None = None


def inspect(path: Path, options: SourceOptions = SourceOptions()) -> FileInfo:
    """Hash ``path`` and settle its format and encoding (one pass over the bytes)."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, holes, head, size = True, False, b"", 0
    try:
        with open(path, "rb") as raw:
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
    except OSError as exc:
        raise SourceError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    encoding = options.encoding or _encoding(head, is_utf8, holes)
    fmt = options.format or detect_format(path, head, encoding)
    if fmt not in FORMATS:
        raise SourceError(str(path), None, f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return FileInfo(path, str(path), size, digest.hexdigest(), fmt, encoding)


def _encoding(head: bytes, is_utf8: bool, holes: bool) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if is_utf8:
        return "utf-8"
    return "latin-1" if holes else "cp1252"


def detect_format(path: Path, head: bytes, encoding: str) -> str:
    """CSV by extension; otherwise JSON array/object, JSON Lines or CSV by the content."""
    if path.suffix.lower() in _CSV_EXTENSIONS:
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
    with open(info.path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=info.encoding, newline="")
        try:
            if info.format == "csv":
                yield from _csv_rows(text, info.name, options.delimiter)
            elif info.format == "jsonl" and info.encoding in ("utf-8", "utf-8-sig"):
                yield from _jsonl_bytes(raw, info.name)
            elif info.format == "jsonl":
                yield from _jsonl_rows(text, info.name)
            else:
                yield from _json_rows(text, info.name)
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
        previous = reader.line_num
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cells):
                continue
            yield _csv_row(name, line, header, cells)
    except csv.Error as exc:
        raise SourceError(name, reader.line_num, f"unreadable CSV: {exc}") from exc


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


def _csv_row(name: str, line: int, header: list[str], cells: list[str]) -> Row:
    data = dict(zip(header, cells, strict=False))
    if len(cells) > len(header) and any(cells[len(header):]):
        message = f"the row has {len(cells)} cells but the header has {len(header)} columns"
        return Row(name, line, data, textual=True, error=message)
    return Row(name, line, data, textual=True)


# --- JSON Lines --------------------------------------------------------------------------------


def _jsonl_bytes(raw: IO[bytes], name: str) -> Iterator[Row]:
    """JSON Lines in UTF-8, decoded straight from the bytes (the common, large case)."""
    decoder = msgspec.json.Decoder()
    for number, line in enumerate(raw, start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        if line.isspace() or not line:
            continue
        try:
            yield Row(name, number, decoder.decode(line))
        except msgspec.DecodeError as exc:
            yield Row(name, number, None, error=f"invalid JSON: {exc}")


def _jsonl_rows(text: io.TextIOWrapper, name: str) -> Iterator[Row]:
    decoder = msgspec.json.Decoder()
    for number, line in enumerate(text, start=1):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        try:
            yield Row(name, number, decoder.decode(stripped.encode()))
        except msgspec.DecodeError as exc:
            yield Row(name, number, None, error=f"invalid JSON: {exc}")


# --- JSON (an array, or {"catalogItems": [...]}) -----------------------------------------------


class _Stream:
    """A text stream read block by block, with JSON values decoded from it and lines counted."""

    def __init__(self, text: io.TextIOWrapper, name: str) -> None:
        self.text, self.name = text, name
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.counted = 1, 0
        self.decoder = json.JSONDecoder()

    def fill(self) -> None:
        self.line_no()
        self.buf = self.buf[self.pos:]
        self.counted -= self.pos
        self.pos = 0
        block = self.text.read(_BLOCK)
        self.eof = not block
        self.buf += block

    def line_no(self) -> int:
        self.line += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos:self.pos + 1]
            self.fill()

    def expect(self, chars: str, what: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            found = repr(char) if char else "the end of the file"
            raise SourceError(self.name, self.line_no(), f"expected {what}, found {found}")
        self.pos += 1
        return char

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Cut by the block boundary, or really invalid? No item is anywhere near 16 MiB.
                if self.eof or len(self.buf) - self.pos > _MAX_VALUE:
                    self.pos = exc.pos
                    message = f"invalid JSON: {exc.msg}"
                    raise SourceError(self.name, self.line_no(), message) from exc
                self.fill()
                continue
            if end == len(self.buf) and not self.eof:
                self.fill()  # a number cut by the block boundary may go on
                continue
            self.pos = end
            return obj


def _json_rows(text: io.TextIOWrapper, name: str) -> Iterator[Row]:
    stream = _Stream(text, name)
    first = stream.expect("[{", "a JSON array or an object with catalogItems")
    if first == "[":
        yield from _array(stream)
    else:
        yield from _object_items(stream)
    if stream.peek():
        raise SourceError(name, stream.line_no(), "unexpected data after the JSON document")


def _array(stream: _Stream) -> Iterator[Row]:
    if stream.peek() == "]":
        stream.pos += 1
        return
    while True:
        stream.peek()
        line = stream.line_no()
        yield Row(stream.name, line, stream.value())
        if stream.expect(",]", "',' or ']'") == "]":
            return


def _object_items(stream: _Stream) -> Iterator[Row]:
    found = False
    if stream.peek() == "}":
        stream.pos += 1
    else:
        while True:
            key = stream.value()
            if not isinstance(key, str):
                raise SourceError(stream.name, stream.line_no(), "expected an attribute name")
            stream.expect(":", "':'")
            if key == "catalogItems" and not found:
                stream.expect("[", "catalogItems to be an array")
                found = True
                yield from _array(stream)
            else:
                stream.value()
            if stream.expect(",}", "',' or '}'") == "}":
                break
    if not found:
        raise SourceError(stream.name, None, 'the JSON object has no "catalogItems" array')
