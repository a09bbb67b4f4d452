"""Files the portal hands out: catalog templates, and errors-only files to fix and upload again.

Decisions:

* Templates have the API's flat fields as columns (``TEMPLATE_COLUMNS``; the additional
  barcodes, a list, are for JSON or a mapping). The xlsx template's first sheet, ``Catalog``,
  is where the readers look; every column but ``standard_price`` is formatted as Text
  (``@``), so that barcodes, SKUs and store ids keep their leading zeros and never become
  ``4.00638E+12``. A second sheet, ``Fields``, says what each column is.
* An errors-only file has the original file's columns, after a first column named
  ``ERROR_COLUMN`` holding the row's errors. The readers leave that column out of every row
  and take off the ``'`` the writer put before formula leads (only in a file that has that
  column), so the file can be fixed and uploaded again as it is.
* Every cell a spreadsheet would execute (``=``, ``+``, ``-``, ``@``, tab, CR first) gets a
  leading ``'`` (``domain.spreadsheet.neutralise``, the rule of the MMC rejection report);
  so does a cell that starts with ``'`` itself (``protect``), so that the readers' ``unprotect``
  gives back every value exactly.
  In xlsx every value is written as a text cell (numbers as the mapping would write them),
  line ends as LF (XML reads a CR as LF anyway), and the control characters XML cannot hold
  (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F) as U+FFFD: the only changes on the way.
* CSV is UTF-8 with a byte-order mark (Excel then opens it as UTF-8), comma-separated,
  RFC 4180 quoting, CRLF line ends.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from catalog_ingest.domain.issues import Issue
from catalog_ingest.domain.items import FIELD_MAX_LENGTH, MAX_STRING, REQUIRED_FIELDS
from catalog_ingest.domain.spreadsheet import protect
from catalog_ingest.files.mapping import to_string
from catalog_ingest.files.records import ERROR_COLUMN

FORMATS: Final = ("csv", "xlsx")
TEMPLATE_COLUMNS: Final = (
    "item_sku", "external_product_id", "external_product_id_type", "item_name", "store_id",
    "standard_price", "brand_name", "product_tax_code", "product_category",
    "product_subcategory",
)
#: Columns that hold numbers as such in the xlsx template (all others are Text).
NUMBER_COLUMNS: Final = frozenset(("standard_price",))
MEDIA_TYPES: Final = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_TEXT: Final = "@"
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_HELP: Final = {
    "item_sku": "Your SKU of the item; unique per store",
    "external_product_id": "The barcode: UPC-A, UPC-E, EAN-8, EAN-13, GTIN-14, ISBN or PLU",
    "external_product_id_type": "UPC, EAN, EAN8, ISBN, GTIN or PLU (inferred when empty)",
    "item_name": "The item's name as shown to shoppers",
    "store_id": "The store the row is for",
    "standard_price": "Price in the store's currency, e.g. 4.99",
    "brand_name": "Brand",
    "product_tax_code": "Tax code",
    "product_category": "Category",
    "product_subcategory": "Subcategory",
}
Cells = Mapping[str, Any] | Sequence[Any]


def error_text(issues: Iterable[Issue]) -> str:
    """A row's issues as one cell: ``CODE field: message`` joined by `` | ``."""
    return " | ".join(f"{i.code} {i.field}: {i.message}" if i.field else
                      f"{i.code}: {i.message}" for i in issues)


def write_template(fmt: str) -> bytes:
    """An empty catalog file whose header is ``TEMPLATE_COLUMNS``: ``"csv"`` or ``"xlsx"``."""
    _check_format(fmt)
    if fmt == "csv":
        return _csv_bytes([list(TEMPLATE_COLUMNS)])
    return _template_xlsx()


def write_errors_only(fmt: str, header: Sequence[str],
                      rows: Iterable[tuple[Cells, str]]) -> bytes:
    """The rejected rows of a file, to fix and upload again, in ``fmt`` (``"csv"``/``"xlsx"``).

    ``header`` is the original file's columns (as the reader gave them: ``Row.header``);
    each row is (its cells, its error text), the cells a mapping column → value (as the
    reader gave them: ``CatalogRow.cells``) or a sequence in header order. The file's first
    column, ``ERROR_COLUMN``, holds the error text; the readers ignore it.
    """
    _check_format(fmt)
    columns = [c for c in header if c != ERROR_COLUMN]
    table = [[ERROR_COLUMN, *columns]]
    lf = fmt == "xlsx"
    for cells, message in rows:
        values = _ordered(cells, columns)
        table.append([_cell(message, lf), *(_cell(v, lf) for v in values)])
    return _csv_bytes(table) if fmt == "csv" else _table_xlsx(table, "Errors")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _ordered(cells: Cells, columns: list[str]) -> list[Any]:
    if isinstance(cells, Mapping):
        return [cells.get(c) for c in columns]
    values = list(cells)
    return values + [None] * (len(columns) - len(values))


def _cell(value: Any, lf: bool) -> str:
    if value is None:
        return ""
    text = to_string(value)
    text = text if isinstance(text, str) else str(text)
    if lf:
        text = _XML_ILLEGAL.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    return protect(text)


def _csv_bytes(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(table)
    return "\ufeff".encode() + out.getvalue().encode("utf-8", errors="replace")


def _table_xlsx(table: list[list[str]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    bold = Font(bold=True)
    for number, values in enumerate(table):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = _TEXT  # text cells: nothing is read as a number or a date
            if number == 0:
                cell.font = bold
            cells.append(cell)
        sheet.append(cells)
    return _saved(book)


def _template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Catalog"
    sheet.freeze_panes = "A2"
    for index, name in enumerate(TEMPLATE_COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=name)
        cell.font = Font(bold=True)
        cell.number_format = _TEXT
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(14, len(name) + 4)
        if name not in NUMBER_COLUMNS:
            dimension.number_format = _TEXT  # the whole column: what is typed stays text
    fields = book.create_sheet("Fields")
    fields.append(["column", "required", "max length", "what"])
    for name in TEMPLATE_COLUMNS:
        required = "yes" if name in REQUIRED_FIELDS else "no"
        fields.append([name, required, FIELD_MAX_LENGTH.get(name, MAX_STRING), _HELP[name]])
    return _saved(book)


def _saved(book: Any) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
