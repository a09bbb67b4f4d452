"""Price rule: `standard_price` is a plain non-negative decimal with at most 3 decimal places."""

from __future__ import annotations

from typing import Any, Final

from catalog_ingest.domain.issues import INVALID_PRICE, Issue, error

MAX_DECIMALS: Final = 3

_NOT_FINITE: Final = frozenset(("nan", "snan", "inf", "infinity"))


def is_valid_price(value: str) -> bool:
    """True for ASCII digits with an optional '.' that has digits on both sides and ≤3 after."""
    if not value.isascii():
        return False
    if value.isdigit():
        return True
    whole, _, fraction = value.partition(".")
    return whole.isdigit() and fraction.isdigit() and len(fraction) <= MAX_DECIMALS


def check_price(value: str | None, field: str = "standard_price") -> Issue | None:
    """None when `value` is None (absent) or a valid price; else an INVALID_PRICE error.

    Valid: ASCII digits, optionally one '.' with at least one digit on each side and at most
    3 after it ("4.99", "12", "0.500", "0", "007.5"). Rejected: "" (empty), "12." and ".5"
    (a digit is needed on both sides), signs ("-1", "+1"), exponents ("1e3"), "NaN" and
    "Infinity", "4,99" and thousands separators, white space anywhere, non-ASCII digits,
    more than 3 decimal places ("1.2345"), and any non-string value.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.isascii():
        if value.isdigit():
            return None
        whole, _, fraction = value.partition(".")
        if whole.isdigit() and fraction.isdigit() and len(fraction) <= MAX_DECIMALS:
            return None
    return error(INVALID_PRICE, field, _price_problem(value, field), value)


def _price_problem(value: Any, field: str) -> str:
    """Why `value` is not a valid price, for a person."""
    rule = "a non-negative decimal with at most 3 decimal places, such as 4.99"
    if not isinstance(value, str):
        return f"{field} must be a string holding {rule}"
    stripped = value.strip()
    if not stripped:
        return f"{field} is empty; it must be {rule}"
    if stripped != value or any(c.isspace() for c in value):
        return f"{field} must not contain white space; it must be {rule}"
    if value[0] == "-":
        return f"{field} must not be negative"
    if value[0] == "+":
        return f"{field} must not have a '+' sign; it must be {rule}"
    if value.lower() in _NOT_FINITE:
        return f"{field} must be a finite number, not {value}"
    if not value.isascii():
        return f"{field} must use only the ASCII digits 0-9 and '.'; it must be {rule}"
    if "," in value:
        return f"{field} must use '.' as the decimal point and no ',' separators"
    if "e" in value.lower() and value.lower().replace("e", "", 1).replace(".", "", 1).isdigit():
        return f"{field} must not use exponent notation; it must be {rule}"
    whole, dot, fraction = value.partition(".")
    if dot and whole.isdigit() and fraction.isdigit():
        return f"{field} has {len(fraction)} decimal places; at most {MAX_DECIMALS} are allowed"
    if dot and (whole.isdigit() or fraction.isdigit()) and not (whole and fraction):
        return f"{field} needs a digit on both sides of the decimal point (e.g. 12.0, 0.5)"
    return f"{field} must be {rule}"
