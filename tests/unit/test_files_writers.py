"""Templates and errors-only files: read back by their libraries and by our own readers."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.domain.items import OPTIONAL_FIELDS, REQUIRED_FIELDS
from catalog_ingest.files import (
    ERROR_COLUMN,
    TEMPLATE_COLUMNS,
    error_text,
    read_catalog,
    write_errors_only,
    write_template,
)
from catalog_ingest.files.sources import inspect_bytes, read_rows

HEADER = ("item_sku", "external_product_id", "item_name", "store_id", "standard_price")
DANGEROUS = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tTab", "\rCR", "'=quoted"]


def test_template_columns_are_the_api_fields() -> None:
    assert set(TEMPLATE_COLUMNS) == set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS)


def test_csv_template_is_the_header_only() -> None:
    data = write_template("csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [list(TEMPLATE_COLUMNS)]
    assert list(read_rows(inspect_bytes(data, "t.csv"))) == []


def test_xlsx_template_keeps_barcodes_as_text() -> None:
    book = openpyxl.load_workbook(io.BytesIO(write_template("xlsx")))
    sheet = book.worksheets[0]
    assert sheet.title == "Catalog"
    assert tuple(c.value for c in sheet[1]) == TEMPLATE_COLUMNS
    assert all(c.data_type == "s" for c in sheet[1])
    for index, name in enumerate(TEMPLATE_COLUMNS, start=1):
        letter = openpyxl.utils.get_column_letter(index)
        expected = "General" if name == "standard_price" else "@"
        assert sheet.column_dimensions[letter].number_format == expected, name
    assert book["Fields"]["A2"].value == "item_sku"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_filled_in_are_read_as_catalogs(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        data = write_template("csv") + b"A-1,04006381333931,,Pen,s1,1.99\r\n"
    else:
        book = openpyxl.load_workbook(io.BytesIO(write_template("xlsx")))
        book.worksheets[0].append(["A-1", "04006381333931", None, "Pen", "s1", 1.99])
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    ((number, item, problems),) = list(read_catalog(data, f"t.{fmt}"))
    assert number == 2
    assert item == {"item_sku": "A-1", "external_product_id": "04006381333931",
                    "item_name": "Pen", "store_id": "s1", "standard_price": "1.99"}
    assert [p.code for p in problems] == ["INFERRED_BARCODE_TYPE"]


def errors_file(fmt: str) -> bytes:
    first = ({"item_sku": "A-1", "external_product_id": "4006381333932", "item_name": "Pen",
              "store_id": "s1", "standard_price": "1.99"}, "INVALID_CHECK_DIGIT: check digit")
    rows = [first, *(([f"B-{n}", "4006381333931", value, "s1", "-1"], "=2+2")
                     for n, value in enumerate(DANGEROUS))]
    return write_errors_only(fmt, HEADER, rows)


def test_errors_only_csv_has_the_error_column_first_and_neutralised_cells() -> None:
    table = list(csv.reader(io.StringIO(errors_file("csv").decode("utf-8-sig"))))
    assert table[0] == [ERROR_COLUMN, *HEADER]
    assert table[1][0] == "INVALID_CHECK_DIGIT: check digit"
    assert table[2][0] == "'=2+2"
    assert [row[3] for row in table[2:]] == ["'" + value for value in DANGEROUS]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
               for row in table for cell in row)


def test_errors_only_xlsx_cells_are_neutralised_text() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(errors_file("xlsx"))).worksheets[0]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == [ERROR_COLUMN, *HEADER]
    assert all(c.data_type == "s" and c.number_format == "@" for row in rows[1:] for c in row
               if c.value is not None)
    lf = [value.replace("\r", "\n") for value in DANGEROUS]  # XML has no CR line ends
    assert [row[3].value for row in rows[2:]] == [v if v[0] == "\n" else "'" + v for v in lf]
    assert rows[2][5].value == "'-1"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_errors_only_file_uploads_again_as_it_is(fmt: str) -> None:
    """Read back: the error column is ignored and the cells are the originals."""
    found = list(read_catalog(errors_file(fmt), f"errors.{fmt}"))
    numbers = [r.row_number for r in found]
    assert len(found) == 1 + len(DANGEROUS) and numbers[0] == 2
    if fmt == "xlsx":  # in CSV a cell holding a line break makes its row two lines long
        assert numbers == list(range(2, 2 + 1 + len(DANGEROUS)))
    assert all(ERROR_COLUMN not in r.cells for r in found)
    assert found[0].header == HEADER
    expected = DANGEROUS if fmt == "csv" else [v.replace("\r", "\n") for v in DANGEROUS]
    assert [r.cells["item_name"] for r in found[1:]] == expected
    assert found[1].cells["standard_price"] == "-1"
    codes = {p.code for p in found[0].problems}
    assert "INVALID_CHECK_DIGIT" in codes and "UNKNOWN_ATTRIBUTE" not in codes


def test_error_text_and_bad_formats() -> None:
    found = list(read_catalog(b"item_sku,external_product_id,item_name,store_id\n"
                              b"A,123,Pen,s\n", "c.csv"))
    assert error_text(found[0].problems).startswith("INVALID_BARCODE external_product_id: ")
    with pytest.raises(ValueError, match="csv, xlsx"):
        write_template("json")
    with pytest.raises(ValueError, match="csv, xlsx"):
        write_errors_only("jsonl", HEADER, [])


cell_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


def _visible(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows as a spreadsheet shows them: calamine (small workbooks) reads a cell of only white
    space as empty or keeps it depending on the character (docs/retailer-toolkit.md), so
    white-space-only cells are left out of the xlsx comparison; every other text must survive."""
    kept = [{k: v for k, v in row.items() if v.strip()} for row in rows]
    return [row for row in kept if row]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=5), cell_text)
def test_any_text_survives_an_errors_only_file(rows: list[tuple[str, str]], message: str) -> None:
    header = ("item_sku", "item_name")
    for fmt in ("csv", "xlsx"):
        data = write_errors_only(fmt, header, [(list(r), message) for r in rows])
        found = [r.data for r in read_rows(inspect_bytes(data, f"e.{fmt}"))]
        expected = []
        for sku, name in rows:
            cells = {k: v for k, v in zip(header, (sku, name), strict=True)}
            if fmt == "xlsx":
                cells = {k: _xml(v) for k, v in cells.items()}
            kept = {k: v for k, v in cells.items() if v != ""}
            if any(cells.values()):
                expected.append(kept if fmt == "xlsx" else cells)
        if fmt == "xlsx":
            found, expected = _visible(found), _visible(expected)
        assert found == expected, fmt


def _xml(text: str) -> str:
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "\ufffd",
                  text.replace("\r\n", "\n").replace("\r", "\n"))
