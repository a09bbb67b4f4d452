"""`catalog-ingest validate` reads workbooks with the shared readers (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
from typer.testing import CliRunner

from catalog_ingest.cli.main import app
from catalog_ingest.domain.barcodes import gs1_check_digit

HEADER = ["item_sku", "external_product_id", "item_name", "store_id", "standard_price"]


def gs1(body: str) -> str:
    return body + str(gs1_check_digit(body))


def workbook(path: Path, rows: list[list[Any]], title: str = "Catalog") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.create_sheet("Notes")
    book.save(path)
    return path


def validate(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["validate", *args, "--json", "--warnings"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {
        "output": result.output}


def test_validate_reports_the_faulty_rows_of_a_workbook(tmp_path: Path) -> None:
    upc = gs1("03600029145")
    path = workbook(tmp_path / "c.xlsx", [
        ["A-1", "4006381333931", "Pen", "s1", 1.99],
        ["A-2", "4006381333932", "Ink", "s1", "2.99"],          # bad check digit
        ["A-3", 4006381333948, "Cap", "s1", 0.5],               # a number cell, still valid
        ["A-4", float(upc), "Nib", "s1", 3],                    # a UPC-A that lost its zero
        ["A-5", "4.00638E+12", "Box", "s1", "4.99"],            # scientific notation
        ["A-1", "4006381333955", "Pen again", "s1", "1.99"],    # duplicate SKU
        ["A-7", "4006381333962", "Bag", "s1", "2,50"],          # bad price
    ])
    code, out = validate(str(path))
    assert code == 1 and (out["rows"], out["invalid"]) == (7, 5)
    found = {(p["line"], p["code"]) for p in out["problems"]}
    assert found >= {(3, "INVALID_CHECK_DIGIT"), (4, "SPREADSHEET_NUMBER_BARCODE"),
                     (5, "SPREADSHEET_MANGLED_BARCODE"), (6, "SPREADSHEET_MANGLED_BARCODE"),
                     (7, "DUPLICATE_SKU_IN_UPLOAD"), (8, "INVALID_PRICE")}
    lost = next(p for p in out["problems"] if p["line"] == 5)
    assert f"{upc} is a valid UPC-A" in lost["message"]
    assert all(p["file"] == str(path) for p in out["problems"])


def test_validate_reads_the_sheet_a_mapping_names_and_refuses_a_wrong_one(
        tmp_path: Path) -> None:
    path = workbook(tmp_path / "c.xlsx", [["A-1", "4006381333931", "Pen", "s1", "1.99"]],
                    title="Prices")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nsheet = "Notes"\n')
    code, out = validate(str(path), "--mapping", str(mapping))
    assert (code, out["rows"]) == (0, 0)  # the Notes sheet is empty
    mapping.write_text('[source]\nsheet = "Sheet2"\n')
    result = CliRunner().invoke(app, ["validate", str(path), "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "no sheet 'Sheet2'; its sheets are 'Prices', 'Notes'" in result.output


def test_validate_passes_a_clean_workbook_with_numbers_written_as_strings(
        tmp_path: Path) -> None:
    path = workbook(tmp_path / "c.xlsx", [["A-1", "4006381333931", "Pen", "s1", 4.5],
                                          ["A-2", "4006381333948", "Ink", "s1", 12]])
    code, out = validate(str(path))
    assert (code, out["invalid"]) == (0, 0)
    assert {p["code"] for p in out["problems"]} == {"INFERRED_BARCODE_TYPE"}


def test_unmatched_columns_are_one_problem_with_a_mapping_to_copy(tmp_path: Path) -> None:
    """A new user's 4-row CSV with columns sku,barcode,name,store,price: one problem (it was 16
    MISSING_FIELD errors), naming the columns and a mapping that would fit."""
    path = tmp_path / "new.csv"
    rows = [f"{sku},{gs1('400638133393')},Pen,demo-store-1,1.00" for sku in "ABCD"]
    path.write_text("sku,barcode,name,store,price\n" + "\n".join(rows) + "\n")
    code, out = validate(str(path))
    assert code == 1
    assert [p["code"] for p in out["problems"]] == ["NO_MATCHING_COLUMNS"]
    message = out["problems"][0]["message"]
    assert 'item_sku = "sku"' in message and 'external_product_id = "barcode"' in message


def test_validate_checks_several_files_as_one_catalog_like_push(tmp_path: Path) -> None:
    """A SKU or a barcode repeated in a later file is the same problem as within one file, as
    `push` of the same files finds it (one cross-item state for all of them)."""
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    header = "item_sku,external_product_id,external_product_id_type,item_name,store_id\n"
    first.write_text(header + "A-1,4006381333931,EAN,Pen,s1\nA-2,4006381333948,EAN,Ink,s1\n")
    second.write_text(header + "A-1,4006381333955,EAN,Pen again,s1\n"
                      "A-3,4006381333948,EAN,Thief,s1\nA-1,4006381333962,EAN,Pen elsewhere,s2\n")
    code, out = validate(str(first), str(second))
    assert code == 1 and (out["rows"], out["invalid"]) == (5, 2)
    found = {(p["file"], p["line"], p["code"]) for p in out["problems"]}
    assert found == {(str(second), 2, "DUPLICATE_SKU_IN_UPLOAD"),
                     (str(second), 3, "BARCODE_CONFLICT")}
