"""Barcodes mangled by spreadsheets: the domain rule (properties) and what validation reports."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.domain.barcodes import gs1_check_digit, judge_barcode
from catalog_ingest.domain.issues import SPREADSHEET_MANGLED_BARCODE, SPREADSHEET_NUMBER_BARCODE
from catalog_ingest.domain.spreadsheet import (
    FORMULA_LEADS,
    barcode_mangling,
    neutralise,
    protect,
    unneutralise,
    unprotect,
)
from catalog_ingest.files.mapping import IDENTITY, parse_mapping
from catalog_ingest.files.records import Row
from catalog_ingest.files.validate import SourceValidator


def gs1(body: str) -> str:
    return body + str(gs1_check_digit(body))


digits = st.text(alphabet="0123456789", min_size=1, max_size=20)
upc_with_zero = st.text(alphabet="0123456789", min_size=10, max_size=10).map(
    lambda b: gs1("0" + b))
ean13 = st.text(alphabet="0123456789", min_size=12, max_size=12).map(gs1)


@given(upc_with_zero)
def test_a_upc_a_that_lost_its_leading_zeros_is_named(upc: str) -> None:
    stripped = upc.lstrip("0")
    if len(stripped) < 9 or isinstance(judge_barcode(stripped, None), str):
        return  # too short to be mistaken, or a valid barcode (an ISBN-10) as it is
    for value in (stripped, int(stripped), float(stripped)):
        found = barcode_mangling(value)
        assert found is not None and found.fatal
        assert f"{upc} is a valid UPC-A" in found.cause
        assert "dropped its leading zero" in found.cause


@given(ean13, upc_with_zero)
def test_valid_barcodes_as_text_are_not_flagged(code: str, upc: str) -> None:
    for value in (code, upc, f" {code} ", upc[:7] + str(gs1_check_digit(upc[:7]))):
        assert barcode_mangling(value) is None


@given(ean13)
def test_scientific_notation_and_point_zero_are_fatal_and_named(code: str) -> None:
    short = f"{int(code):.5E}"  # 4.00638E+12, as a spreadsheet shows it
    found = barcode_mangling(short)
    assert found is not None and found.fatal and "scientific notation" in found.cause
    assert barcode_mangling(short.replace(".", ",").lower()) is not None
    point = barcode_mangling(code + ".0")
    assert point is not None and point.fatal and "ends in .0" in point.cause
    assert f"write it as {code}" in point.cause


@given(ean13)
def test_a_whole_number_cell_still_valid_is_a_warning_with_its_digits(code: str) -> None:
    for cell in (int(code), float(code)):
        found = barcode_mangling(cell)
        assert found is not None
        if len(str(int(code))) in (12, 13):  # leading zeros of an EAN-13 do not matter
            assert not found.fatal and found.digits == str(int(code))
            assert "number cell" in found.cause


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | digits | st.text())
def test_the_rule_never_raises(value: Any) -> None:
    found = barcode_mangling(value)
    assert found is None or found.cause


@given(st.floats(min_value=1, max_value=1e14).filter(lambda f: not f.is_integer()))
def test_fractional_and_huge_numbers_are_fatal(value: float) -> None:
    found = barcode_mangling(value)
    assert found is not None and found.fatal
    huge = barcode_mangling(10**16 + 7)
    assert huge is not None and huge.fatal and "15 digits" in huge.cause


@given(st.text())
def test_neutralise_and_unneutralise_round_trip(text: str) -> None:
    safe = neutralise(text)
    assert not safe.startswith(FORMULA_LEADS)
    assert unneutralise(safe) == text or text.startswith("'")
    if text.startswith(FORMULA_LEADS):
        assert safe == "'" + text


@given(st.text())
def test_protect_round_trips_exactly_and_neutralises(text: str) -> None:
    assert unprotect(protect(text)) == text
    assert not protect(text).startswith(FORMULA_LEADS)


# --- what validation reports ---------------------------------------------------------------


def item(barcode: Any) -> dict[str, Any]:
    return {"item_sku": "A-1", "external_product_id": barcode, "item_name": "Pen",
            "store_id": "s1", "external_product_id_type": "EAN"}


def check(data: dict[str, Any], *, typed: bool = False, mapping: str = "") -> list[Any]:
    rule = parse_mapping(tomllib.loads(mapping)) if mapping else IDENTITY
    header = tuple(data)
    row = Row("f.xlsx" if typed else "f.csv", 2, data, textual=True, typed=typed, header=header)
    checked = SourceValidator().check(row, rule)
    return [(i.severity, i.code, i.field) for i in checked.issues]


def test_validation_names_the_cause_once_instead_of_invalid_barcode() -> None:
    found = check(item("4.00638E+12"))
    assert found == [("ERROR", SPREADSHEET_MANGLED_BARCODE, "external_product_id")]
    assert check(item("4006381333931.0")) == found
    upc = gs1("03600029145")
    found = check({**item(upc[1:]), "external_product_id_type": "UPC"})
    assert found == [("ERROR", SPREADSHEET_MANGLED_BARCODE, "external_product_id")]


def test_a_number_cell_is_a_warning_when_valid_and_fatal_when_it_lost_a_zero() -> None:
    assert check(item(4006381333931.0), typed=True) == [
        ("WARNING", SPREADSHEET_NUMBER_BARCODE, "external_product_id")]
    upc = gs1("03600029145")
    lost = {**item(float(upc)), "external_product_id_type": "UPC"}
    assert check(lost, typed=True) == [
        ("ERROR", SPREADSHEET_MANGLED_BARCODE, "external_product_id")]


def test_a_conversion_the_mapping_asks_for_repairs_what_it_can() -> None:
    mapping = """
[columns]
item_sku = "sku"
external_product_id = "ean"
item_name = "name"
store_id = "store"
[convert]
external_product_id = ["digits", "zfill:12"]
"""
    upc = gs1("03600029145")
    row = {"sku": "A", "name": "Pen", "store": "s"}
    assert check({**row, "ean": upc[1:] + ".0"}, mapping=mapping) == [
        ("WARNING", "INFERRED_BARCODE_TYPE", "external_product_id")]
    assert check({**row, "ean": float(upc)}, typed=True, mapping=mapping) == [
        ("WARNING", "INFERRED_BARCODE_TYPE", "external_product_id")]
    assert check({**row, "ean": "3.60003E+11"}, mapping=mapping)[0][1] == (
        SPREADSHEET_MANGLED_BARCODE)


def test_additional_barcodes_are_checked_too() -> None:
    extra = {"external_product_id": "4.00638E+12", "external_product_id_type": "EAN"}
    found = check({**item(gs1("400638133393")),
                   "additional_external_product_information": [extra]}, typed=False)
    field = "additional_external_product_information[0].external_product_id"
    assert ("ERROR", SPREADSHEET_MANGLED_BARCODE, field) in found
