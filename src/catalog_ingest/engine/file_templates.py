"""The catalog templates the portal offers: the API's fields as columns, barcodes as text."""

from __future__ import annotations

from catalog_ingest.engine.errors_file import API_COLUMNS, CSV_TYPE, XLSX_TYPE, Download

_EXAMPLE = {"item_sku": "SKU-0001", "external_product_id": "012345678905",
            "external_product_id_type": "UPC", "item_name": "Example item",
            "store_id": "your-store-id", "standard_price": "4.99"}


def template(kind: str) -> Download:
    """An empty catalog template (one example row) as CSV or xlsx."""
    if kind == "xlsx":
        return Download("catalog-template.xlsx", XLSX_TYPE, _xlsx())
    row = ",".join(_EXAMPLE.get(c, "") for c in API_COLUMNS)
    text = ",".join(API_COLUMNS) + "\r\n" + row + "\r\n"
    return Download("catalog-template.csv", CSV_TYPE, text.encode("utf-8-sig"))


def _xlsx() -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Items"
    sheet.append(list(API_COLUMNS))
    sheet.append([_EXAMPLE.get(c) for c in API_COLUMNS])
    for column in range(1, len(API_COLUMNS) + 1):  # every column text: barcodes keep zeros
        letter = openpyxl.utils.get_column_letter(column)
        for cell in sheet[letter]:
            cell.number_format = "@"
        sheet.column_dimensions[letter].width = 22
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
