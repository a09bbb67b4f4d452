"""Price rule: non-negative decimals with at most 3 decimal places, nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.domain.prices import check_price, is_valid_price


@pytest.mark.parametrize(
    "value", ["4.99", "12", "0.500", "0", "0.0", "007.5", "1234567.89", "9999999999", "0.001"]
)
def test_valid_prices(value: str) -> None:
    assert check_price(value) is None
    assert is_valid_price(value)


def test_absent_price_is_fine() -> None:
    assert check_price(None) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "is empty"),
        (" ", "is empty"),
        ("-1", "must not be negative"),
        ("-0", "must not be negative"),
        ("+1", "'+' sign"),
        ("1e3", "exponent"),
        ("1E3", "exponent"),
        ("NaN", "finite"),
        ("nan", "finite"),
        ("Infinity", "finite"),
        ("inf", "finite"),
        ("4,99", "','"),
        ("1,000.00", "','"),
        (" 4.99", "white space"),
        ("4.99 ", "white space"),
        ("4. 99", "white space"),
        ("1.2345", "4 decimal places; at most 3"),
        ("0.00001", "5 decimal places"),
        ("12.", "both sides"),
        (".5", "both sides"),
        ("4.9.9", "non-negative decimal"),
        (".", "non-negative decimal"),
        ("abc", "non-negative decimal"),
        ("$4.99", "non-negative decimal"),
        ("٤.٩٩", "ASCII digits"),
        ("4²", "ASCII digits"),
        ("\uff10.\uff15", "ASCII digits"),
    ],
)
def test_invalid_prices(value: str, fragment: str) -> None:
    issue = check_price(value)
    assert issue is not None
    assert (issue.severity, issue.code, issue.field, issue.value) == (
        "ERROR",
        "INVALID_PRICE",
        "standard_price",
        value,
    )
    assert fragment in issue.message
    assert not is_valid_price(value)


def test_field_name_is_used_in_issue_and_message() -> None:
    issue = check_price("-1", field="price")
    assert issue is not None
    assert issue.field == "price"
    assert issue.message == "price must not be negative"


@pytest.mark.parametrize("value", [4.99, 5, True, ["4.99"]])
def test_non_string_prices_are_rejected(value: object) -> None:
    issue = check_price(value)  # type: ignore[arg-type]
    assert issue is not None
    assert issue.code == "INVALID_PRICE"
    assert "must be a string" in issue.message


@given(
    st.decimals(min_value=0, max_value=Decimal("999999.999"), places=3, allow_nan=False),
    st.integers(0, 3),
)
def test_non_negative_decimals_with_at_most_three_places_are_accepted(
    amount: Decimal, places: int
) -> None:
    text = f"{amount:.{places}f}"
    assert check_price(text) is None


@given(
    st.decimals(min_value=0, max_value=Decimal("9999"), places=6, allow_nan=False),
    st.integers(4, 6),
)
def test_more_than_three_places_are_rejected(amount: Decimal, places: int) -> None:
    text = f"{amount:.{places}f}"
    issue = check_price(text)
    assert issue is not None
    assert f"{places} decimal places" in issue.message


@given(st.decimals(min_value=Decimal("-999999"), max_value=Decimal("-0.001"), places=3))
def test_negative_prices_are_rejected(amount: Decimal) -> None:
    issue = check_price(str(amount))
    assert issue is not None
    assert issue.message == "standard_price must not be negative"


@given(st.text())
def test_any_text_is_judged_without_raising_and_agrees_with_decimal(text: str) -> None:
    issue = check_price(text)
    assert (issue is None) == is_valid_price(text)
    if issue is None:
        value = Decimal(text)
        assert value >= 0
        assert value.as_tuple().exponent >= -3  # type: ignore[operator]
        assert text.isascii()
