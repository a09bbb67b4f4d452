"""Reading Excel workbooks: both engines, sheet choice, row numbers, bad workbooks."""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from catalog_ingest.files import excel
from catalog_ingest.files.sources import (
    SourceError,
    SourceOptions,
    inspect,
    inspect_bytes,
    read_rows,
)


@pytest.fixture(params=["calamine", "openpyxl"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with each reading engine (openpyxl: every file counts as large)."""
    if request.param == "openpyxl":
        monkeypatch.setattr(excel, "CALAMINE_MAX_BYTES", -1)
    return str(request.param)


def workbook(path: Path, sheets: dict[str, dict[str, Any]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, cells in sheets.items():
        sheet = book.create_sheet(title)
        for ref, value in cells.items():
            sheet[ref] = value
    book.save(path)
    return path


def rows(path: Path, **options: Any) -> list[tuple[int, Any, str | None]]:
    info = inspect(path, SourceOptions(**options))
    return [(r.line, r.data, r.error) for r in read_rows(info)]


def test_rows_have_their_sheet_row_numbers_and_typed_cells(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"Items": {
        "B3": "item_sku", "C3": "external_product_id", "D3": "standard_price", "E3": "added",
        "B4": "A-1", "C4": "4006381333931", "D4": 4.99, "E4": datetime.date(2024, 1, 31),
        "B6": "A-2", "C6": 4006381333931, "D6": 12,
    }})
    found = rows(path)
    assert [line for line, _, _ in found] == [4, 6]
    first, second = found[0][1], found[1][1]
    assert first["item_sku"] == "A-1" and first["external_product_id"] == "4006381333931"
    assert first["standard_price"] == 4.99
    assert first["added"] in (datetime.date(2024, 1, 31), datetime.datetime(2024, 1, 31))
    assert second["external_product_id"] == 4006381333931  # a number cell stays a number
    assert isinstance(second["external_product_id"], int | float)
    assert "added" not in second  # empty cells are left out
    info = inspect(path)
    assert (info.format, info.sheet) == ("xlsx", "Items")
    assert next(read_rows(info)).header == ("item_sku", "external_product_id",
                                            "standard_price", "added")


def test_a_value_under_no_header_is_a_row_error(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"S": {"A1": "item_sku", "C1": "item_name",
                                                "A2": "A-1", "B2": "lost?", "C2": "Pen"}})
    ((line, data, error),) = rows(path)
    assert line == 2 and data == {"item_sku": "A-1", "item_name": "Pen"}
    assert error == "the row has a value in column B, which has no header"


def test_duplicate_header_is_a_source_error(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"S": {"A2": "sku", "B2": "sku", "A3": "x"}})
    with pytest.raises(SourceError, match="names column 'sku' twice") as caught:
        rows(path)
    assert caught.value.line == 2


def test_a_sheet_is_chosen_by_name_or_after_a_hash(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"First": {"A1": "item_sku", "A2": "one"},
                                          "Second": {"A1": "item_sku", "A2": "two"}})
    assert rows(path)[0][1] == {"item_sku": "one"}
    assert rows(path, sheet="Second")[0][1] == {"item_sku": "two"}
    assert rows(tmp_path / "c.xlsx#Second")[0][1] == {"item_sku": "two"}


def test_a_wrong_sheet_name_lists_the_sheets(tmp_path: Path) -> None:
    path = workbook(tmp_path / "c.xlsx", {"First": {"A1": "x"}, "Prices 2024": {"A1": "y"}})
    message = "no sheet 'Sheet2'; its sheets are 'First', 'Prices 2024'"
    with pytest.raises(SourceError, match=message):
        inspect(path, SourceOptions(sheet="Sheet2"))
    with pytest.raises(SourceError, match=message):
        inspect(tmp_path / "c.xlsx#Sheet2")


def test_workbook_bytes_are_read_like_a_file(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"S": {"A1": "item_sku", "A2": "A-1"}})
    info = inspect_bytes(path.read_bytes(), "upload.xlsm")
    assert (info.format, info.size, info.sha256) == ("xlsx", path.stat().st_size,
                                                     inspect(path).sha256)
    assert [r.data for r in read_rows(info)] == [{"item_sku": "A-1"}]


def test_empty_sheet_has_no_rows(tmp_path: Path, engine: str) -> None:
    path = workbook(tmp_path / "c.xlsx", {"S": {}})
    assert rows(path) == []


def test_old_xls_and_other_zips_are_refused_clearly(tmp_path: Path) -> None:
    old = tmp_path / "old.xls"
    old.write_bytes(excel.OLE_MAGIC + b"\0" * 100)
    with pytest.raises(SourceError, match=r"old binary Excel file \(.xls\)"):
        inspect(old)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(SourceError, match="not a readable Excel workbook"):
        inspect_bytes(archive.getvalue(), "catalog.xlsx")
    with pytest.raises(SourceError, match=r"not an Excel workbook \(.xlsx\)"):
        inspect_bytes(b"sku\nA\n", "c.csv", SourceOptions(format="xlsx"))
    with pytest.raises(SourceError, match="a zip archive"):
        inspect_bytes(archive.getvalue(), "c.json", SourceOptions(format="json"))


def test_large_workbooks_are_streamed_by_openpyxl(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the size limit the calamine engine (which loads the sheet) is never used."""
    path = workbook(tmp_path / "c.xlsx", {"S": {"A1": "item_sku", "A2": "A-1"}})
    monkeypatch.setattr(excel, "CALAMINE_MAX_BYTES", path.stat().st_size - 1)

    def refuse(*_: object) -> None:
        raise AssertionError("calamine used for a large workbook")

    monkeypatch.setattr(excel, "_calamine", refuse)
    assert rows(path) == [(2, {"item_sku": "A-1"}, None)]


def test_a_sheet_without_api_columns_is_said_so_at_its_header_row(tmp_path: Path,
                                                                   engine: str) -> None:
    from catalog_ingest.files import read_catalog

    path = workbook(tmp_path / "c.xlsx", {"S": {"B3": "sku", "C3": "ean", "B4": "A"}})
    with pytest.raises(SourceError) as caught:
        list(read_catalog(path))
    assert (caught.value.code, caught.value.line) == ("NO_MATCHING_COLUMNS", 3)
