"""The sample catalog shipped in examples/: up to date, and faulty exactly where it says."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from tests.support.examples import EXAMPLES, make_samples

from catalog_ingest.files import read_catalog

FAULTS = {5: "INVALID_CHECK_DIGIT", 9: "SPREADSHEET_MANGLED_BARCODE", 14: "INVALID_PRICE",
          20: "DUPLICATE_SKU_IN_UPLOAD"}


def test_the_shipped_files_are_what_the_script_writes(tmp_path: Path) -> None:
    script = make_samples()
    data = script.rows()
    script.write_csv(tmp_path / "s.csv", data)
    script.write_xlsx(tmp_path / "s.xlsx", data)
    assert (tmp_path / "s.csv").read_bytes() == (EXAMPLES / "sample-catalog.csv").read_bytes()
    fresh = openpyxl.load_workbook(tmp_path / "s.xlsx").worksheets[0]
    shipped = openpyxl.load_workbook(EXAMPLES / "sample-catalog.xlsx").worksheets[0]
    assert [[c.value for c in r] for r in fresh.iter_rows()] == [
        [c.value for c in r] for r in shipped.iter_rows()]


@pytest.mark.parametrize("name", ["sample-catalog.csv", "sample-catalog.xlsx"])
def test_the_samples_are_faulty_exactly_where_the_readme_says(name: str) -> None:
    rows = list(read_catalog(EXAMPLES / name))
    assert len(rows) == 20
    errors = {r.row_number: [p.code for p in r.problems if p.is_error] for r in rows}
    assert {n: codes for n, codes in errors.items() if codes} == {
        n: [code] for n, code in FAULTS.items()}
    stores = {r.item["store_id"] for r in rows}
    assert stores == {"demo-store-1", "demo-store-2"}
    assert FAULTS.keys() <= {int(line.split("|")[1]) for line in (
        EXAMPLES / "README.md").read_text().splitlines() if line.startswith("| ")
        and line.split("|")[1].strip().isdigit()}
