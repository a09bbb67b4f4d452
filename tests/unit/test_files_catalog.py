"""The portal's entry points: read_catalog over paths and bytes, typed cells, mapping, store."""

from __future__ import annotations

import datetime
import io
import tomllib
from pathlib import Path

import openpyxl
import pytest

from catalog_ingest.files import (
    MappingError,
    SourceError,
    open_catalog,
    parse_mapping,
    read_catalog,
    sheet_names,
)

CSV = b"item_sku,external_product_id,item_name,store_id\nA-1,4006381333931,Pen,s1\n"


def xlsx(rows: list[list[object]], title: str = "Catalog") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_rows_unpack_as_number_item_problems_and_keep_their_cells() -> None:
    (row,) = read_catalog(CSV, "c.csv")
    number, item, problems = row
    assert number == 2 and item["item_sku"] == "A-1" and row.valid
    assert [p.code for p in problems] == ["INFERRED_BARCODE_TYPE"]
    assert row.cells == {"item_sku": "A-1", "external_product_id": "4006381333931",
                         "item_name": "Pen", "store_id": "s1"}
    assert row.header == ("item_sku", "external_product_id", "item_name", "store_id")


def test_sheet_cells_become_the_api_strings() -> None:
    data = xlsx([["item_sku", "external_product_id", "item_name", "store_id",
                  "standard_price", "product_category"],
                 [1234, "4006381333931", "Pen", "s1", 4.5, datetime.date(2024, 1, 31)]])
    ((_, item, problems),) = read_catalog(data, "c.xlsx")
    assert item == {"item_sku": "1234", "external_product_id": "4006381333931",
                    "item_name": "Pen", "store_id": "s1", "standard_price": "4.5",
                    "product_category": "2024-01-31"}
    assert all(not p.is_error for p in problems)


def test_mapping_store_and_sheet_arguments(tmp_path: Path) -> None:
    data = xlsx([["Article", "EAN", "Name"], ["A-1", 4006381333931, "Pen"]], title="Export")
    assert sheet_names(io.BytesIO(data)) == ["Export"]
    mapping = parse_mapping(tomllib.loads('[columns]\nitem_sku = "Article"\n'
                                          'external_product_id = "EAN"\nitem_name = "Name"\n'
                                          '[convert]\nexternal_product_id = "digits"\n'))
    ((_, item, problems),) = read_catalog(data, "c.xlsx", mapping=mapping, store="s9",
                                          sheet="Export")
    assert item == {"item_sku": "A-1", "external_product_id": "4006381333931",
                    "item_name": "Pen", "store_id": "s9"}
    assert [p.code for p in problems] == ["INFERRED_BARCODE_TYPE"]  # converted: no warning
    path = tmp_path / "m.toml"
    path.write_text('[columns]\nitem_sku = "Article"\nnope = "x"\n')
    with pytest.raises(MappingError, match="nope"):
        read_catalog(data, "c.xlsx", mapping=path)


def test_file_errors_come_at_once_or_while_reading() -> None:
    with pytest.raises(SourceError, match="no sheet 'Nope'; its sheets are 'Catalog'"):
        read_catalog(xlsx([["item_sku"]]), "c.xlsx", sheet="Nope")
    rows = read_catalog(b"sku,ean\nA,1\n", "c.csv")
    with pytest.raises(SourceError) as caught:
        list(rows)
    assert caught.value.code == "NO_MATCHING_COLUMNS"
    assert open_catalog(CSV, "c.csv").format == "csv"
    with pytest.raises(SourceError, match="the file is empty"):
        open_catalog(b"", "c.xlsx")
    with pytest.raises(SourceError, match="not an Excel workbook"):
        read_catalog(b"item_sku\nA\n", "c.xlsx")
    assert open_catalog(b'{"item_sku": "A"}\n{"item_sku": "B"}\n', "c.jsonl").format == "jsonl"


def test_a_problem_is_located_in_the_users_column() -> None:
    mapping = parse_mapping(tomllib.loads(
        '[columns]\nitem_sku = "Article"\nexternal_product_id = "EAN"\n'
        '[constants]\nstore_id = "s1"\n[[additional_ids]]\ncolumn = "More"\nsplit = "|"\n'))
    assert mapping.column_for("external_product_id") == "EAN"
    assert mapping.column_for("store_id") is None and mapping.column_for("brand_name") is None
    field = "additional_external_product_information[1].external_product_id"
    assert mapping.column_for(field) == "More"
    assert parse_mapping({}).column_for("item_name") == "item_name"
