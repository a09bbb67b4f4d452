"""Mapping source records to API items (TOML), and local validation with the service's rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from catalog_ingest.client.push.mapping import (
    IDENTITY,
    MappingError,
    load_mapping,
    parse_mapping,
    to_string,
)
from catalog_ingest.client.push.sources import Row
from catalog_ingest.client.push.validate import (
    CONVERSION_FAILED,
    UNREADABLE_ROW,
    SourceValidator,
)
from catalog_ingest.domain.rules import item_issues, request_model_issues

MAPPING = """
[columns]
item_sku = "Article No"
external_product_id = "EAN"
item_name = "Description"
standard_price = "Price (cents)"
store_id = "Shop"

[constants]
external_product_id_type = "EAN"
product_tax_code = "A_GEN_TAX"

[convert]
external_product_id = ["digits", "zfill:13"]
standard_price = "cents"

[[additional_ids]]
column = "EAN 2"
type = "EAN"

[[additional_ids]]
column = "More"
split = "|"
convert = "digits"
"""

ROW = {"Article No": "A-1", "EAN": "4006 381 33393 1", "Description": "Pencil",
       "Price (cents)": "199", "Shop": "store-01", "EAN 2": "", "More": "012345678905 | 96385074|",
       "Ignored": "x"}


def apply(mapping_text: str, data: Any, textual: bool = True) -> tuple[Any, list[Any]]:
    import tomllib

    return parse_mapping(tomllib.loads(mapping_text)).apply(data, textual)


def test_mapping_renames_adds_constants_and_barcode_columns() -> None:
    item, failures = apply(MAPPING, ROW)
    assert failures == []
    assert item == {
        "item_sku": "A-1", "external_product_id": "4006381333931", "item_name": "Pencil",
        "standard_price": "1.99", "store_id": "store-01", "external_product_id_type": "EAN",
        "product_tax_code": "A_GEN_TAX",
        "additional_external_product_information": [
            {"external_product_id": "012345678905"}, {"external_product_id": "96385074"}],
    }
    assert request_model_issues(item) == []
    assert [i.code for i in item_issues(item) if i.is_error] == []


def test_store_option_overrides_the_store_column() -> None:
    import tomllib

    mapping = parse_mapping(tomllib.loads(MAPPING)).with_store("store-09")
    item, _ = mapping.apply(ROW, True)
    assert item["store_id"] == "store-09"
    assert IDENTITY.with_store("s")._identity({}, True, []) == {}
    assert IDENTITY.with_store("s").apply({"item_sku": "A", "store_id": "x"}, False)[0] == {
        "item_sku": "A", "store_id": "s"}


def test_conversion_failure_is_reported_with_field_and_value() -> None:
    item, failures = apply(MAPPING, {**ROW, "Price (cents)": "1.99"})
    assert "standard_price" not in item
    assert failures == [("standard_price", "'1.99' is not a whole number of cents", "1.99")]


@pytest.mark.parametrize(("conversion", "value", "expected"), [
    ("decimal", "$4.99", "4.99"), ("decimal", "4,99 €", "4.99"), ("decimal", "1.234,50", "1234.50"),
    ("decimal", "1,234.50", "1234.50"), ("decimal", 4.5, "4.5"), ("decimal", 12, "12"),
    ("decimal", "n/a", "n/a"), ("cents", 499, "4.99"), ("cents", " 5 ", "0.05"),
    ("integer", 12.0, "12"), ("integer", "12.000", "12"), ("digits", 4006381333931.0,
                                                          "4006381333931"),
    ("digits", "0-12345-67890-5", "012345678905"), ("zfill:12", "12345678905", "012345678905"),
    ("zfill:12", "ABC", "ABC"), ("upper", "upc", "UPC"), ("lower", "EAN", "ean"),
    ("trim", "  x ", "x"), ("string", True, "true"), ("string", 1e20, "100000000000000000000"),
])
def test_conversions(conversion: str, value: Any, expected: str) -> None:
    mapping = f'[columns]\nitem_name = "v"\n[convert]\nitem_name = "{conversion}"\n'
    item, failures = apply(mapping, {"v": value}, textual=False)
    assert failures == []
    assert item == {"item_name": expected}


@pytest.mark.parametrize(("conversion", "value"), [("cents", "4.99"), ("integer", "1.5"),
                                                   ("integer", "abc")])
def test_conversions_refuse_what_they_cannot_convert(conversion: str, value: str) -> None:
    mapping = f'[columns]\nitem_name = "v"\n[convert]\nitem_name = "{conversion}"\n'
    _, failures = apply(mapping, {"v": value})
    assert [f[0] for f in failures] == ["item_name"]


def test_identity_mapping_keeps_json_and_drops_empty_csv_cells() -> None:
    json_item = {"item_sku": "A", "standard_price": 4.5, "brand_name": ""}
    assert IDENTITY.apply(json_item, textual=False) == (json_item, [])
    assert IDENTITY.apply({"item_sku": "A", "brand_name": ""}, textual=True) == (
        {"item_sku": "A"}, [])
    assert IDENTITY.apply([1, 2], textual=False) == ([1, 2], [])


def test_dotted_columns_reach_into_nested_json_and_unmapped_can_be_kept() -> None:
    mapping = ('[columns]\nitem_sku = "id"\nstandard_price = "price.amount"\n'
               '[options]\nkeep_unmapped = true\ntrim = true\n')
    item, _ = apply(mapping, {"id": " A ", "price": {"amount": 2.5}, "color": "red", "x": ""},
                    textual=False)
    assert item == {"item_sku": "A", "standard_price": "2.5", "price": {"amount": 2.5},
                    "color": "red"}


@pytest.mark.parametrize(("text", "message"), [
    ('[colums]\nitem_sku = "a"', "unknown key 'colums'"),
    ('[columns]\nsku = "a"', "'sku', which is not a catalog item field"),
    ('[columns]\nstore_id = "a"\n[constants]\nstore_id = "s"', "both in [columns] and"),
    ('[convert]\nitem_name = "rot13"', "unknown conversion 'rot13'"),
    ('[convert]\nitem_name = "zfill:x"', "unknown conversion"),
    ('additional_ids = [{column = "a", kind = "EAN"}]', "unknown key 'kind'"),
    ('additional_ids = [{type = "EAN"}]', "column must be a non-empty string"),
    ('additional_ids = ["a"]\n[columns]\nadditional_external_product_information = "x"',
     "cannot be combined"),
    ('[source]\nformat = "xml"', "source.format must be one of"),
    ('[source]\ndelimiter = ";;"', "one character"),
    ('[source]\nencoding = "klingon"', "not a known encoding"),
    ('[options]\ntrim = "yes"', "true or false"),
    ('[constants]\nitem_name = ""', "non-empty string"),
])
def test_bad_mappings_say_what_is_wrong(text: str, message: str) -> None:
    import tomllib

    with pytest.raises(MappingError, match=re.escape(message)):
        parse_mapping(tomllib.loads(text))


def test_load_mapping_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[columns\n")
    with pytest.raises(MappingError, match=r"m\.toml: not valid TOML"):
        load_mapping(path)
    path.write_text('[source]\ndelimiter = "tab"\nencoding = "cp1252"\n[constants]\nstore_id = 7\n')
    mapping = load_mapping(path)
    assert (mapping.source.delimiter, mapping.source.encoding) == ("\t", "cp1252")
    assert mapping.constants == {"store_id": "7"}


def test_to_string_keeps_digits() -> None:
    assert [to_string(v) for v in (7, 0.1, 4006381333931.0, "x", None)] == [
        "7", "0.1", "4006381333931", "x", None]


# --- validation -----------------------------------------------------------------------------


def item(sku: str, barcode: str, store: str = "s1", **extra: Any) -> dict[str, Any]:
    return {"item_sku": sku, "external_product_id": barcode, "item_name": f"Item {sku}",
            "store_id": store, "external_product_id_type": "EAN", **extra}


def codes(validator: SourceValidator, data: Any) -> list[str]:
    checked = validator.check(Row("f.json", 1, data), IDENTITY)
    return [i.code for i in checked.issues if i.is_error]


def test_validation_uses_the_service_rules_per_item() -> None:
    validator = SourceValidator()
    assert codes(validator, item("A", "4006381333931")) == []
    assert codes(validator, item("B", "4006381333932")) == ["INVALID_CHECK_DIGIT"]
    assert codes(validator, item("C", "4006381333931", standard_price="4,99")) == [
        "INVALID_PRICE", "BARCODE_CONFLICT"]
    assert codes(validator, {"item_sku": "D", "store_id": "s1"}) == ["MISSING_FIELD"] * 2
    assert codes(validator, "not an item") == ["WRONG_TYPE"]
    assert codes(validator, item("E", "96385074", item_name=" ")) == [
        "BARCODE_TYPE_MISMATCH", "BLANK_ITEM_NAME"]


def test_validation_checks_skus_and_barcodes_across_the_source_per_store() -> None:
    validator = SourceValidator()
    assert codes(validator, item("A", "4006381333932")) == ["INVALID_CHECK_DIGIT"]
    # The first occurrence claims the SKU even though it was invalid (as the service decides).
    assert codes(validator, item("A", "4006381333931")) == ["DUPLICATE_SKU_IN_UPLOAD"]
    assert codes(validator, item("A", "4006381333931", store="s2")) == []
    # An invalid item holds no barcode; a valid one does, in its own store only.
    assert codes(validator, item("B", "4006381333931")) == []
    assert codes(validator, item("C", "5000000000005", additional_external_product_information=[
        {"external_product_id": "4006381333931"}])) == ["BARCODE_CONFLICT"]
    assert codes(validator, item("D", "4006381333931", store="s3")) == []


def test_unreadable_rows_and_failed_conversions_are_row_errors() -> None:
    validator = SourceValidator()
    checked = validator.check(Row("f.csv", 9, None, error="the row has 3 cells"), IDENTITY)
    assert [(i.code, i.message) for i in checked.issues] == [
        (UNREADABLE_ROW, "the row has 3 cells")]
    import tomllib

    mapping = parse_mapping(tomllib.loads('[columns]\nitem_sku = "s"\n[convert]\n'
                                          'item_sku = "integer"'))
    checked = validator.check(Row("f.csv", 10, {"s": "x"}, textual=True), mapping)
    assert [(i.code, i.field, i.value) for i in checked.issues] == [
        (CONVERSION_FAILED, "item_sku", "x")]
    assert checked.problems()[0].where == "f.csv:10"
