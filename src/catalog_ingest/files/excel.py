"""Excel workbooks (.xlsx, .xlsm): one worksheet read as a table, each row with its sheet row.

Two engines, one behaviour. python-calamine (Rust) reads a sheet about 8 times faster than
openpyxl but holds the whole sheet in memory; openpyxl in read-only mode streams it row by row
in flat memory. Files up to ``CALAMINE_MAX_BYTES`` (a few hundred thousand cells) are read with
calamine, larger ones with openpyxl, so that a 1,000,000-row workbook is never held in memory.
Both hand rows of cell values to the same code below: the first non-empty row is the header,
empty cells are left out of a row, numbers stay numbers (the mapping writes them as strings;
a number in a barcode column is reported by the validator).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

from catalog_ingest.domain.spreadsheet import unprotect
from catalog_ingest.files.records import ERROR_COLUMN, Row, SourceError

ZIP_MAGIC: Final = b"PK\x03\x04"
OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS: Final = frozenset((".xlsx", ".xlsm"))
#: Workbooks up to this size (compressed) are read with calamine: ≈ 120 MB of memory at most.
CALAMINE_MAX_BYTES: Final = 4 << 20

#: A workbook: its path (read with random access), or a binary stream (an upload in memory).
Book = Path | IO[bytes]
Cell = str | int | float | bool | datetime.date | datetime.time | datetime.timedelta | None


def sheet_names(raw: Book, name: str) -> list[str]:
    """The worksheet names of a workbook, in workbook order."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with CalamineWorkbook.from_object(_rewound(raw)) as book:
            return list(book.sheet_names)
    except (CalamineError, ValueError, OSError) as exc:
        raise SourceError(name, None, f"not a readable Excel workbook: {exc}") from exc


def choose_sheet(raw: Book, name: str, sheet: str | None) -> str:
    """The sheet to read: ``sheet``, or the first; a SourceError lists the sheets there are."""
    names = sheet_names(raw, name)
    if not names:
        raise SourceError(name, None, "the workbook has no worksheet")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    there = ", ".join(repr(n) for n in names)
    raise SourceError(name, None, f"the workbook has no sheet {sheet!r}; its sheets are {there}")


def sheet_rows(raw: Book, name: str, sheet: str | None, size: int) -> Iterator[Row]:
    """Every row of the sheet (the first one when None) under its header row."""
    sheet = sheet or choose_sheet(raw, name, None)
    cells = _calamine(raw, name, sheet) if size <= CALAMINE_MAX_BYTES else _openpyxl(raw, name,
                                                                                     sheet)
    yield from table_rows(name, cells)


def _calamine(raw: Book, name: str, sheet: str) -> Iterator[tuple[int, Sequence[Cell]]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with CalamineWorkbook.from_object(_rewound(raw)) as book:
            found = book.get_sheet_by_name(sheet)
            rows: Iterable[Sequence[Cell]] = found.iter_rows()
            # iter_rows starts at the sheet's first row (empty rows above the data included)
            # but at the first column holding data: pad so that column letters stay right.
            left = found.start[1] if found.start else 0
            if left:
                pad: list[Cell] = [None] * left
                rows = (pad + list(row) for row in rows)
            yield from enumerate(rows, start=1)
    except CalamineError as exc:
        raise SourceError(name, None, f"not a readable Excel workbook: {exc}") from exc


def _openpyxl(raw: Book, name: str, sheet: str) -> Iterator[tuple[int, Sequence[Cell]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(_rewound(raw), read_only=True, data_only=True,
                                      keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) for a bad file
        raise SourceError(name, None, f"not a readable Excel workbook: {exc}") from exc
    try:
        worksheet = book[sheet]
        worksheet.reset_dimensions()  # some writers record a wrong size: read every row
        yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
    finally:
        book.close()


def table_rows(name: str, numbered: Iterable[tuple[int, Sequence[Cell]]]) -> Iterator[Row]:
    """Rows of cells as records: the first non-empty row names the columns."""
    rows = iter(numbered)
    first = next((r for r in rows if any(_value(c) is not None for c in r[1])), None)
    if first is None:
        return
    header = _header(name, *first)
    skip = header.index(ERROR_COLUMN) if ERROR_COLUMN in header else -1
    columns = tuple(h for i, h in enumerate(header) if h and i != skip)
    for number, cells in rows:
        yield from _record(name, number, header, cells, (columns, first[0]), skip)


def _header(name: str, number: int, cells: Sequence[Cell]) -> list[str]:
    header = ["" if c is None else _text(c).strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    seen: set[str] = set()
    for cell in header:
        if cell in seen and cell:
            raise SourceError(name, number, f"the header row names column {cell!r} twice")
        seen.add(cell)
    return header


def _record(name: str, number: int, header: list[str], cells: Sequence[Cell],
            named: tuple[tuple[str, ...], int], skip: int) -> Iterator[Row]:
    data: dict[str, Any] = {}
    error = None
    width = len(header)
    for index, cell in enumerate(cells):
        value = _value(cell)
        if value is None or index == skip:
            continue
        column = header[index] if index < width else ""
        if not column:
            error = f"the row has a value in column {_letters(index)}, which has no header"
            continue
        data[column] = unprotect(value) if skip >= 0 and isinstance(value, str) else value
    if data or error:
        yield Row(name, number, data, textual=True, error=error, typed=True, header=named[0],
                  header_line=named[1])


def _rewound(raw: Book) -> Any:
    if isinstance(raw, Path):
        return str(raw)
    raw.seek(0)
    return raw


def _value(cell: Cell) -> Cell:
    return None if cell == "" else cell


def _text(cell: Cell) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _letters(index: int) -> str:
    """The spreadsheet column name of a 0-based column index (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
