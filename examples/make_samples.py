"""Write examples/sample-catalog.csv and examples/sample-catalog.xlsx (run from anywhere).

The same 20 rows in both files, for stores demo-store-1 and demo-store-2 (the stores of the
demo tenant `make run` provisions), in the API's own column names, so no mapping is needed.
Four rows are faulty on purpose; examples/README.md lists them. Barcodes are GS1-valid
(check digits computed here); the workbook stores every column but the price as text, as the
portal's template does.

    python examples/make_samples.py
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from catalog_ingest.domain.barcodes import gs1_check_digit

HERE = Path(__file__).resolve().parent
COLUMNS = ("item_sku", "external_product_id", "external_product_id_type", "item_name",
           "store_id", "standard_price", "brand_name", "product_category")
PRODUCTS = (
    ("Whole milk 1 l", "1.19", "Alpine Dairy", "Dairy"),
    ("Greek yoghurt 500 g", "2.49", "Alpine Dairy", "Dairy"),
    ("Sourdough bread", "3.20", "Corner Bakery", "Bakery"),
    ("Butter croissant", "0.95", "Corner Bakery", "Bakery"),
    ("Free-range eggs x6", "2.79", "Hillside Farm", "Eggs"),
    ("Espresso beans 250 g", "5.99", "Roastery Nord", "Coffee"),
    ("Orange juice 1 l", "2.15", "Sunpress", "Drinks"),
    ("Sparkling water 1.5 l", "0.69", "Clearspring", "Drinks"),
    ("Dark chocolate 100 g", "1.89", "Cacao & Co", "Sweets"),
    ("Penne 500 g", "1.29", "Casa Pasta", "Pantry"),
)
#: (row index, column, value, why): the faults, by position in the data rows (0-based).
FAULTS = (
    (3, "external_product_id", None, "bad check digit (INVALID_CHECK_DIGIT)"),
    (7, "external_product_id", "4.00638E+12",
     "barcode mangled by a spreadsheet: scientific notation (SPREADSHEET_MANGLED_BARCODE)"),
    (12, "standard_price", "2,49", "price with a decimal comma (INVALID_PRICE)"),
    (18, "item_sku", "DS2-0002", "SKU given twice in demo-store-2 (DUPLICATE_SKU_IN_UPLOAD)"),
)


def ean13(n: int) -> str:
    body = f"400638{n:06d}"
    return body + str(gs1_check_digit(body))


def rows() -> list[dict[str, str]]:
    """The 20 data rows, faults included."""
    out = []
    for index in range(20):
        store = 1 + index // 10
        name, price, brand, category = PRODUCTS[index % 10]
        out.append({
            "item_sku": f"DS{store}-{index % 10 + 1:04d}",
            "external_product_id": ean13(100 + index),
            "external_product_id_type": "EAN",
            "item_name": name,
            "store_id": f"demo-store-{store}",
            "standard_price": price,
            "brand_name": brand,
            "product_category": category,
        })
    for index, column, value, _ in FAULTS:
        if value is None:  # a wrong check digit: the right one plus 1
            good = out[index][column]
            value = good[:-1] + str((int(good[-1]) + 1) % 10)
        out[index][column] = value
    return out


def write_csv(path: Path, data: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)


def write_xlsx(path: Path, data: list[dict[str, str]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Catalog"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in data:
        sheet.append([row[c] for c in COLUMNS])
    for column in sheet.iter_cols(min_row=1):
        text = column[0].value != "standard_price"
        for cell in column:
            if text:
                cell.number_format = "@"  # text: barcodes keep every digit
            elif cell.row > 1 and cell.value.replace(".", "", 1).isdigit():
                cell.value = float(cell.value)  # prices as numbers, as people type them
        sheet.column_dimensions[column[0].column_letter].width = 22
    book.properties.creator = "catalog-ingest examples/make_samples.py"
    book.properties.created = book.properties.modified = datetime.datetime(2026, 1, 1)
    book.save(path)


def main() -> None:
    data = rows()
    write_csv(HERE / "sample-catalog.csv", data)
    write_xlsx(HERE / "sample-catalog.xlsx", data)
    print(f"wrote {HERE / 'sample-catalog.csv'} and {HERE / 'sample-catalog.xlsx'}")


if __name__ == "__main__":
    main()
