"""What the readers of catalog files hand out: rows, file descriptions, options and errors."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from catalog_ingest.errors import CatalogIngestError

#: The column errors-only files add (``writers``); readers leave it out of every row.
ERROR_COLUMN = "errors (ignored on upload)"
#: The stable code of a file-level problem that stops the reading of a file.
SOURCE_UNREADABLE = "SOURCE_UNREADABLE"


class SourceError(CatalogIngestError):
    """A source file that cannot be read (any further): the file and line say where.

    ``code`` is the problem code to report it under (``SOURCE_UNREADABLE``, or a more precise
    one such as ``NO_MATCHING_COLUMNS``); ``reason`` is the message without the location.
    """

    code = SOURCE_UNREADABLE

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.reason = file, line, message


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read sources; None means detect (format by extension/content, encoding,
    delimiter; the first sheet of a workbook)."""

    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One source file as inspected before reading: identity (sha256) and how to read it.

    ``content`` holds the bytes of a source given in memory (then ``path`` is only its name);
    ``sheet`` is the worksheet of a workbook to read (None: the first one).
    """

    path: Path
    name: str
    size: int
    sha256: str
    format: str
    encoding: str
    sheet: str | None = None
    content: bytes | None = None

    def open(self) -> IO[bytes]:
        """The file's bytes, from the start."""
        if self.content is not None:
            return io.BytesIO(self.content)
        return open(self.path, "rb")


@dataclass(slots=True)
class Row:
    """One record: ``data`` is a dict of strings for CSV, any JSON value for JSON sources,
    and a dict of cell values (str, int, float, bool, dates; empty cells left out) for sheets.

    ``error`` is set when the record could not be read (the row is then invalid);
    ``textual`` says that empty strings mean "no value" (CSV cannot tell them apart);
    ``typed`` says that the values are spreadsheet cells (numbers are numbers, to be written
    as strings, and a number in a barcode column is a sign of a mangled barcode);
    ``header`` is the file's column names (CSV and sheets), shared by all its rows, and
    ``header_line`` the line (sheet row) they are on.
    """

    file: str
    line: int
    data: Any
    textual: bool = False
    error: str | None = None
    typed: bool = False
    header: tuple[str, ...] | None = None
    header_line: int = 1
