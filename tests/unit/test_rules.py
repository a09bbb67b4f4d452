"""Per-item rules: processing issues (codes, fields, order) and request-model checks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.domain.issues import Issue
from catalog_ingest.domain.rules import (
    is_request_model_valid,
    item_barcodes,
    item_issues,
    request_model_issues,
)

EAN13 = "4006381333931"
UPCA = "036000291452"
EAN8 = "96385074"
ADD = "additional_external_product_information"


def make_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_sku": "A-1",
        "external_product_id": EAN13,
        "external_product_id_type": "EAN",
        "item_name": "Sparkling water 1L",
        "store_id": "store-01",
        "standard_price": "1.99",
        "brand_name": "Acme",
        "product_tax_code": "A_GEN_TAX",
        "product_category": "Drinks",
        "product_subcategory": "Water",
    }
    for key, value in changes.items():
        if value is ...:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def summary(found: list[Issue]) -> list[tuple[str, str, str | None]]:
    return [(i.severity, i.code, i.field) for i in found]


# --- item_issues ---------------------------------------------------------------------------


def test_valid_item_has_no_issues() -> None:
    assert item_issues(make_item()) == []
    assert (
        item_issues(
            make_item(**{ADD: [{"external_product_id": UPCA, "external_product_id_type": "UPC"}]})
        )
        == []
    )


def test_minimal_item_only_warns_about_inferred_type() -> None:
    item = {"item_sku": "A", "external_product_id": UPCA, "item_name": "x", "store_id": "s"}
    assert summary(item_issues(item)) == [
        ("WARNING", "INFERRED_BARCODE_TYPE", "external_product_id")
    ]
    assert item_issues(item)[0].message == "external_product_id_type is missing; inferred UPC-A"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"external_product_id": "4006381333934"}, "INVALID_CHECK_DIGIT", "external_product_id"),
        ({"external_product_id": "12-34"}, "INVALID_BARCODE", "external_product_id"),
        ({"external_product_id_type": "UPC"}, "BARCODE_TYPE_MISMATCH", "external_product_id"),
        ({"external_product_id_type": "EAN13"}, "UNKNOWN_BARCODE_TYPE", "external_product_id_type"),
        ({"standard_price": "1e3"}, "INVALID_PRICE", "standard_price"),
        ({"standard_price": ""}, "INVALID_PRICE", "standard_price"),
        ({"item_name": " \t\n"}, "BLANK_ITEM_NAME", "item_name"),
        ({"item_name": "\u3000"}, "BLANK_ITEM_NAME", "item_name"),
    ],
)
def test_each_error_code(changes: dict[str, Any], code: str, field: str) -> None:
    assert summary(item_issues(make_item(**changes))) == [("ERROR", code, field)]


def test_absent_price_is_not_checked() -> None:
    assert item_issues(make_item(standard_price=...)) == []
    assert item_issues(make_item(standard_price=None)) == []


def test_additional_ids_are_checked_with_their_own_type_and_path() -> None:
    extras = [
        {"external_product_id": UPCA, "external_product_id_type": "UPC"},
        {"external_product_id": "036000291453", "external_product_id_type": "UPC"},
        {"external_product_id": EAN8},
        {"external_product_id": "0306406152", "external_product_id_type": "EAN"},
        {"external_product_id": "4011", "external_product_id_type": "SKU"},
        {"external_product_id": "4012", "external_product_id_type": ""},
    ]
    found = item_issues(make_item(**{ADD: extras}))
    assert summary(found) == [
        ("ERROR", "INVALID_CHECK_DIGIT", f"{ADD}[1].external_product_id"),
        ("WARNING", "INFERRED_BARCODE_TYPE", f"{ADD}[2].external_product_id"),
        ("ERROR", "BARCODE_TYPE_MISMATCH", f"{ADD}[3].external_product_id"),
        ("ERROR", "UNKNOWN_BARCODE_TYPE", f"{ADD}[4].external_product_id_type"),
        ("WARNING", "INFERRED_BARCODE_TYPE", f"{ADD}[5].external_product_id"),
    ]
    assert found[0].message == "UPC-A check digit should be 2, not 3"
    assert found[0].value == "036000291453"
    assert found[1].message == f"{ADD}[2].external_product_id_type is missing; inferred EAN-8"
    assert found[3].value == "SKU"


def test_duplicate_of_primary_in_additional_ids() -> None:
    extras = [{"external_product_id": UPCA}, {"external_product_id": EAN13}]
    found = [i for i in item_issues(make_item(**{ADD: extras})) if i.is_error]
    assert summary(found) == [
        ("ERROR", "DUPLICATE_BARCODE_IN_ITEM", f"{ADD}[1].external_product_id")
    ]
    assert found[0].value == EAN13
    assert "first as external_product_id" in found[0].message


def test_duplicate_between_additional_ids_reported_on_each_later_one() -> None:
    extras = [
        {"external_product_id": UPCA, "external_product_id_type": "UPC"},
        {"external_product_id": EAN8, "external_product_id_type": "EAN8"},
        {"external_product_id": UPCA, "external_product_id_type": "GTIN"},
        {"external_product_id": UPCA, "external_product_id_type": "UPC"},
    ]
    found = item_issues(make_item(**{ADD: extras}))
    assert summary(found) == [
        ("ERROR", "DUPLICATE_BARCODE_IN_ITEM", f"{ADD}[2].external_product_id"),
        ("ERROR", "DUPLICATE_BARCODE_IN_ITEM", f"{ADD}[3].external_product_id"),
    ]
    assert all(f"first as {ADD}[0].external_product_id" in i.message for i in found)


def test_single_additional_id_equal_to_primary_is_a_duplicate() -> None:
    found = item_issues(
        make_item(**{ADD: [{"external_product_id": EAN13, "external_product_id_type": "EAN"}]})
    )
    assert summary(found) == [
        ("ERROR", "DUPLICATE_BARCODE_IN_ITEM", f"{ADD}[0].external_product_id")
    ]


def test_unknown_attributes_are_warnings_with_scalar_values() -> None:
    item = make_item(color="red", weight=1.5, organic=True, dims={"h": 1}, tags=["a"], note=None)
    item[ADD] = [{"external_product_id": UPCA, "external_product_id_type": "UPC", "label": "case"}]
    found = item_issues(item)
    assert [(i.severity, i.code, i.field, i.value) for i in found] == [
        ("WARNING", "UNKNOWN_ATTRIBUTE", "color", "red"),
        ("WARNING", "UNKNOWN_ATTRIBUTE", "weight", 1.5),
        ("WARNING", "UNKNOWN_ATTRIBUTE", "organic", True),
        ("WARNING", "UNKNOWN_ATTRIBUTE", "dims", None),
        ("WARNING", "UNKNOWN_ATTRIBUTE", "tags", None),
        ("WARNING", "UNKNOWN_ATTRIBUTE", "note", None),
        ("WARNING", "UNKNOWN_ATTRIBUTE", f"{ADD}[0].label", "case"),
    ]
    assert found[0].message == "Unknown attribute 'color' was ignored"
    assert found[0].to_dict() == {
        "severity": "WARNING",
        "code": "UNKNOWN_ATTRIBUTE",
        "field": "color",
        "message": "Unknown attribute 'color' was ignored",
        "value": "red",
    }
    assert "value" not in found[3].to_dict()


def test_issue_order_barcodes_duplicates_price_name_unknown() -> None:
    item = make_item(
        external_product_id="4006381333934",
        standard_price="-1",
        item_name="  ",
        color="red",
        **{
            ADD: [
                {"external_product_id": "4006381333934", "external_product_id_type": "EAN"},
                {"external_product_id": "123"},
            ]
        },
    )
    assert [i.code for i in item_issues(item)] == [
        "INVALID_CHECK_DIGIT",
        "INVALID_CHECK_DIGIT",
        "INVALID_BARCODE",
        "DUPLICATE_BARCODE_IN_ITEM",
        "INVALID_PRICE",
        "BLANK_ITEM_NAME",
        "UNKNOWN_ATTRIBUTE",
    ]


def test_empty_or_null_additional_ids_are_fine() -> None:
    assert item_issues(make_item(**{ADD: []})) == []
    assert item_issues(make_item(**{ADD: None})) == []


def test_item_barcodes_in_order() -> None:
    assert item_barcodes(make_item()) == [EAN13]
    extras = [
        {"external_product_id": UPCA},
        {"external_product_id": EAN8, "external_product_id_type": None},
    ]
    assert item_barcodes(make_item(**{ADD: extras})) == [EAN13, UPCA, EAN8]
    assert item_barcodes(make_item(**{ADD: None})) == [EAN13]


# --- request model -------------------------------------------------------------------------


def test_valid_item_passes_request_model() -> None:
    item = make_item(color=["anything"], **{ADD: [{"external_product_id": UPCA, "x": 1}]})
    assert request_model_issues(item) == []
    assert is_request_model_valid(item)


@pytest.mark.parametrize("item", [None, "item", 3, ["a"], True])
def test_item_must_be_an_object(item: Any) -> None:
    [issue] = request_model_issues(item)
    assert (issue.code, issue.field) == ("WRONG_TYPE", None)
    [indexed] = request_model_issues(item, index=4)
    assert indexed.field == "catalogItems[4]"
    assert not is_request_model_valid(item)


@pytest.mark.parametrize("field", ["item_sku", "external_product_id", "item_name", "store_id"])
@pytest.mark.parametrize("missing", [..., None, ""])
def test_required_fields(field: str, missing: Any) -> None:
    item = make_item(**{field: missing})
    assert summary(request_model_issues(item)) == [("ERROR", "MISSING_FIELD", field)]
    assert not is_request_model_valid(item)


@pytest.mark.parametrize(
    "field",
    ["item_sku", "external_product_id_type", "standard_price", "brand_name", "product_category"],
)
@pytest.mark.parametrize("value", [1, 4.99, True, ["x"], {"a": "b"}])
def test_string_fields_must_be_strings(field: str, value: Any) -> None:
    item = make_item(**{field: value})
    [issue] = request_model_issues(item)
    assert (issue.code, issue.field) == ("WRONG_TYPE", field)
    assert "must be a string" in issue.message
    assert not is_request_model_valid(item)


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("item_sku", 255),
        ("item_name", 255),
        ("store_id", 255),
        ("external_product_id", 255),
        ("external_product_id_type", 255),
        ("brand_name", 255),
        ("product_tax_code", 255),
        ("standard_price", 10),
        ("product_category", 50),
        ("product_subcategory", 50),
    ],
)
def test_length_limits_in_characters(field: str, limit: int) -> None:
    at_limit = make_item(**{field: "é" * limit})  # 2 bytes each in UTF-8: limits count characters
    assert request_model_issues(at_limit) == []
    assert is_request_model_valid(at_limit)
    over = make_item(**{field: "é" * (limit + 1)})
    [issue] = request_model_issues(over)
    assert (issue.code, issue.field) == ("TOO_LONG", field)
    assert f"at most {limit}" in issue.message
    assert not is_request_model_valid(over)


def test_optional_fields_may_be_null_or_empty() -> None:
    item = make_item(external_product_id_type=None, brand_name="", standard_price=None)
    assert request_model_issues(item) == []
    assert is_request_model_valid(item)


@pytest.mark.parametrize("extras", ["x", {"external_product_id": UPCA}, 5])
def test_additional_ids_must_be_an_array(extras: Any) -> None:
    item = make_item(**{ADD: extras})
    assert summary(request_model_issues(item)) == [("ERROR", "WRONG_TYPE", ADD)]
    assert not is_request_model_valid(item)


def test_at_most_50_additional_ids() -> None:
    fifty = make_item(**{ADD: [{"external_product_id": str(i)} for i in range(50)]})
    assert request_model_issues(fifty) == []
    assert is_request_model_valid(fifty)
    many = make_item(**{ADD: [{"external_product_id": str(i)} for i in range(51)]})
    assert summary(request_model_issues(many)) == [("ERROR", "TOO_MANY_ADDITIONAL_IDS", ADD)]
    assert not is_request_model_valid(many)


def test_additional_entry_problems_have_paths() -> None:
    extras: list[Any] = [
        "4006381333931",
        {"external_product_id_type": "UPC"},
        {"external_product_id": ""},
        {"external_product_id": 12345},
        {"external_product_id": "1" * 256},
        {"external_product_id": UPCA, "external_product_id_type": 7},
        {"external_product_id": UPCA, "external_product_id_type": "U" * 256},
        {"external_product_id": UPCA, "external_product_id_type": None},
    ]
    found = request_model_issues(make_item(**{ADD: extras}), index=7)
    base = f"catalogItems[7].{ADD}"
    assert summary(found) == [
        ("ERROR", "WRONG_TYPE", f"{base}[0]"),
        ("ERROR", "MISSING_FIELD", f"{base}[1].external_product_id"),
        ("ERROR", "MISSING_FIELD", f"{base}[2].external_product_id"),
        ("ERROR", "WRONG_TYPE", f"{base}[3].external_product_id"),
        ("ERROR", "TOO_LONG", f"{base}[4].external_product_id"),
        ("ERROR", "WRONG_TYPE", f"{base}[5].external_product_id_type"),
        ("ERROR", "TOO_LONG", f"{base}[6].external_product_id_type"),
    ]
    assert found[3].value == 12345


def test_request_model_reports_every_problem_in_field_order() -> None:
    item = make_item(item_sku=..., store_id=3, brand_name="b" * 300)
    assert summary(request_model_issues(item, index=0)) == [
        ("ERROR", "MISSING_FIELD", "catalogItems[0].item_sku"),
        ("ERROR", "WRONG_TYPE", "catalogItems[0].store_id"),
        ("ERROR", "TOO_LONG", "catalogItems[0].brand_name"),
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUE = st.none() | st.text(max_size=3) | st.text(min_size=49, max_size=52) | JSON
ENTRY = st.dictionaries(
    st.sampled_from(["external_product_id", "external_product_id_type", "other"]), FIELD_VALUE
)
ITEMS = st.one_of(
    JSON,
    st.dictionaries(
        st.sampled_from(
            [
                "item_sku",
                "external_product_id",
                "item_name",
                "store_id",
                "standard_price",
                "product_category",
                "external_product_id_type",
                "color",
            ]
        ),
        FIELD_VALUE,
    ).map(lambda d: {**make_item(), **d}),
    st.lists(ENTRY, max_size=3).map(lambda extras: make_item(**{ADD: extras})),
    st.lists(ENTRY, min_size=49, max_size=52).map(lambda extras: make_item(**{ADD: extras})),
)


@given(ITEMS)
def test_fast_check_agrees_with_detailed_check(item: Any) -> None:
    issues = request_model_issues(item)
    assert is_request_model_valid(item) == (issues == [])
    assert all(i.severity == "ERROR" for i in issues)


@given(ITEMS)
def test_item_issues_never_raise_on_request_model_valid_items(item: Any) -> None:
    if is_request_model_valid(item):
        for issue in item_issues(item):
            assert issue.field is not None
            assert issue.message
