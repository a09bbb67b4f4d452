"""Barcode rules: the accepted formats, their check digits, type matching and inference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from catalog_ingest.domain.issues import (
    BARCODE_TYPE_MISMATCH,
    INFERRED_BARCODE_TYPE,
    INVALID_BARCODE,
    INVALID_CHECK_DIGIT,
    UNKNOWN_BARCODE_TYPE,
    Issue,
    error,
    warning,
)

#: The declared types (`external_product_id_type`), matched ASCII-case-insensitively.
BARCODE_TYPES: tuple[str, ...] = ("UPC", "EAN", "EAN8", "ISBN", "GTIN", "PLU")

#: Lengths a value of any accepted shape can have.
BARCODE_LENGTHS: Final = frozenset((4, 5, 8, 10, 12, 13, 14))

#: What a judgement is: the format name when valid, else (issue code, message).
Verdict = str | tuple[str, str]

# GS1 weights from the right are 1, 3, 1, 3, ...: with b the ASCII bytes of a whole code,
# sum(b) + 2 * sum(b[-2::-2]) is the weighted digit sum plus this offset (48 = ord("0")).
_ASCII_OFFSET: Final = {n: 48 * (n + 2 * (n // 2)) for n in range(1, 20)}

_EXPECTS: Final = {
    "UPC": "UPC-A (12 digits) or UPC-E (8 digits, number system 0 or 1)",
    "EAN": "EAN-13 (13 digits)",
    "EAN8": "EAN-8 (8 digits)",
    "ISBN": "ISBN-10 (9 digits and a digit or X) or ISBN-13 (13 digits starting 978 or 979)",
    "GTIN": "GTIN-8, GTIN-12, GTIN-13 or GTIN-14 (8, 12, 13 or 14 digits)",
    "PLU": "PLU (4 or 5 digits)",
}

_LOOKS: Final = {
    4: "4 digits (a PLU)",
    5: "5 digits (a PLU)",
    8: "8 digits (an EAN-8 or UPC-E)",
    10: "10 characters (an ISBN-10)",
    12: "12 digits (a UPC-A)",
    13: "13 digits (an EAN-13)",
    14: "14 digits (a GTIN-14)",
}


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body`, the ASCII digits before the check digit."""
    if not (body.isascii() and body.isdigit()):
        raise ValueError(f"GS1 body must be ASCII digits: {body!r}")
    b = body.encode()
    n = len(b)
    # Rightmost body digit has weight 3, then 1, 3, 1, ... going left.
    total = 3 * sum(b[-1::-2]) + sum(b[-2::-2]) - 48 * (3 * ((n + 1) // 2) + n // 2)
    return -total % 10


def isbn10_check_digit(body: str) -> str:
    """The ISBN-10 mod-11 check character ('0'-'9' or 'X') for 9 ASCII digits."""
    if not (len(body) == 9 and body.isascii() and body.isdigit()):
        raise ValueError(f"ISBN-10 body must be 9 ASCII digits: {body!r}")
    total = sum((10 - i) * (ord(c) - 48) for i, c in enumerate(body))
    r = -total % 11
    return "X" if r == 10 else chr(48 + r)


def upce_to_upca(code: str) -> str:
    """Expand an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A, same check digit."""
    if not (len(code) == 8 and code.isascii() and code.isdigit() and code[0] in "01"):
        raise ValueError(f"not a UPC-E (8 digits, number system 0 or 1): {code!r}")
    d = code[1:7]
    last = d[5]
    if last in "012":
        middle = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        middle = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        middle = d[0:4] + "00000" + d[4]
    else:
        middle = d[0:5] + "0000" + last
    return code[0] + middle + code[7]


def _gs1(value: str, fmt: str) -> Verdict:
    """Check the GS1 check digit of `value` (ASCII digits, check digit last)."""
    b = value.encode()
    total = sum(b) + 2 * sum(b[-2::-2]) - _ASCII_OFFSET[len(b)]
    if total % 10 == 0:
        return fmt
    expected = (b[-1] - 48 - total) % 10
    return INVALID_CHECK_DIGIT, f"{fmt} check digit should be {expected}, not {value[-1]}"


def _upce(value: str) -> Verdict:
    return _gs1(upce_to_upca(value), "UPC-E")


def _isbn10(value: str) -> Verdict:
    expected = isbn10_check_digit(value[:9])
    if value[9] == expected:
        return "ISBN-10"
    return INVALID_CHECK_DIGIT, f"ISBN-10 check digit should be {expected}, not {value[9]}"


def _mismatch(dtype: str, looks: str) -> Verdict:
    return BARCODE_TYPE_MISMATCH, f"Barcode is {looks}; type {dtype} expects {_EXPECTS[dtype]}"


def _as_upc(value: str, n: int) -> Verdict:
    if n == 12:
        return _gs1(value, "UPC-A")
    if n == 8:
        if value[0] in "01":
            return _upce(value)
        return _mismatch("UPC", f"8 digits with number system {value[0]} (UPC-E needs 0 or 1)")
    return _mismatch("UPC", _LOOKS[n])


def _as_ean(value: str, n: int) -> Verdict:
    return _gs1(value, "EAN-13") if n == 13 else _mismatch("EAN", _LOOKS[n])


def _as_ean8(value: str, n: int) -> Verdict:
    return _gs1(value, "EAN-8") if n == 8 else _mismatch("EAN8", _LOOKS[n])


def _as_gtin(value: str, n: int) -> Verdict:
    if n in (8, 12, 13, 14):
        return _gs1(value, f"GTIN-{n}")
    return _mismatch("GTIN", _LOOKS[n])


def _as_isbn(value: str, n: int) -> Verdict:
    if n == 10:
        return _isbn10(value)
    if n == 13:
        if value[:3] in ("978", "979"):
            return _gs1(value, "ISBN-13")
        return _mismatch("ISBN", "13 digits not starting with 978 or 979")
    return _mismatch("ISBN", _LOOKS[n])


def _as_plu(value: str, n: int) -> Verdict:
    return "PLU" if n in (4, 5) else _mismatch("PLU", _LOOKS[n])


_BY_TYPE: Final[dict[str, Callable[[str, int], Verdict]]] = {
    "UPC": _as_upc,
    "EAN": _as_ean,
    "EAN8": _as_ean8,
    "ISBN": _as_isbn,
    "GTIN": _as_gtin,
    "PLU": _as_plu,
}


def _inferred(value: str, n: int) -> Verdict:
    """Judge a well-shaped value without a declared type: the format follows from the length."""
    if n == 13:
        return _gs1(value, "EAN-13")
    if n == 12:
        return _gs1(value, "UPC-A")
    if n == 8:
        ean8 = _gs1(value, "EAN-8")
        if isinstance(ean8, str) or value[0] not in "01":
            return ean8
        return _upce(value)
    if n == 14:
        return _gs1(value, "GTIN-14")
    if n == 10:
        return _isbn10(value)
    return "PLU"


def _invalid_message(value: str, dtype: str | None) -> str:
    """Why `value` is not a barcode of any accepted shape."""
    expects = f"; type {dtype} expects {_EXPECTS[dtype]}" if dtype in _EXPECTS else ""
    if not value:
        return "Barcode is empty"
    if any(c.isspace() for c in value):
        return "Barcode contains white space; only the digits 0-9 are allowed"
    if value.isdigit():
        if not value.isascii():
            return "Barcode contains non-ASCII digits; only the digits 0-9 are allowed"
        return (
            f"Barcode has {len(value)} digits; a barcode has 4 or 5 (PLU), 8 (EAN-8, UPC-E), "
            f"10 (ISBN-10), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14){expects}"
        )
    if len(value) == 10 and value[9] == "x" and value[:9].isascii() and value[:9].isdigit():
        return "ISBN-10 check character must be an upper-case X, not x"
    if "X" in value:
        return "Barcode contains X, which is only allowed as the last character of an ISBN-10"
    return "Barcode contains characters other than the digits 0-9"


def _known_type(declared: str) -> str | None:
    """The canonical declared type (ASCII case-insensitive), or None when unknown."""
    if declared in _BY_TYPE:
        return declared
    if declared.isascii():
        upper = declared.upper()
        if upper in _BY_TYPE:
            return upper
    return None


def _judge_general(value: str, declared_type: str | None) -> Verdict:
    """judge_barcode for every value and type (the fast path handles only common cases)."""
    n = len(value)
    shaped = (
        n in BARCODE_LENGTHS
        and value.isascii()
        and (value.isdigit() or (n == 10 and value[9] == "X" and value[:9].isdigit()))
    )
    dtype = _known_type(declared_type) if declared_type else None
    if not shaped:
        return INVALID_BARCODE, _invalid_message(value, dtype)
    if not declared_type:
        return _inferred(value, n)
    if dtype is None:
        accepted = ", ".join(BARCODE_TYPES)
        message = f"Unknown barcode type {declared_type!r}; use one of {accepted}"
        return UNKNOWN_BARCODE_TYPE, message
    return _BY_TYPE[dtype](value, n)


def _fast_formats() -> dict[str, dict[int, str]]:
    """Declared type as sent (upper or lower case; "" = absent) -> length -> single GS1 format."""
    by_type = {
        "": {12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"},
        "UPC": {12: "UPC-A"},
        "EAN": {13: "EAN-13"},
        "EAN8": {8: "EAN-8"},
        "GTIN": {n: f"GTIN-{n}" for n in (8, 12, 13, 14)},
    }
    return {**by_type, **{k.lower(): v for k, v in by_type.items()}}


_FAST_FORMATS: Final = _fast_formats()
_NO_FORMATS: Final[dict[int, str]] = {}


def judge_barcode(value: str, declared_type: str | None) -> Verdict:
    """The format name of a valid barcode, else the (code, message) of its one error.

    An absent type (None or "") is inferred from the value; this never raises for a str value.
    """
    if value.isascii() and value.isdigit():
        fmt = _FAST_FORMATS.get(declared_type or "", _NO_FORMATS).get(len(value))
        if fmt is not None:
            b = value.encode()
            total = sum(b) + 2 * sum(b[-2::-2]) - _ASCII_OFFSET[len(b)]
            if total % 10 == 0:
                return fmt
            expected = (b[-1] - 48 - total) % 10
            return INVALID_CHECK_DIGIT, f"{fmt} check digit should be {expected}, not {value[-1]}"
    return _judge_general(value, declared_type)


def verdict_issue(verdict: Verdict, value: str, declared_type: str | None, field: str) -> Issue:
    """The Issue for a verdict that is an error, or an inferred-type warning for a valid one.

    UNKNOWN_BARCODE_TYPE names the type attribute (`field` + "_type") and the declared type;
    every other issue names `field` and the barcode value.
    """
    if isinstance(verdict, str):
        return warning(
            INFERRED_BARCODE_TYPE, field, f"{field}_type is missing; inferred {verdict}", value
        )
    code, message = verdict
    if code == UNKNOWN_BARCODE_TYPE:
        return error(code, f"{field}_type", message, declared_type)
    return error(code, field, message, value)


def check_barcode(value: str, declared_type: str | None, field: str) -> list[Issue]:
    """[] for a valid barcode of a declared type; one INFERRED_BARCODE_TYPE warning for a valid
    one without type; otherwise exactly one error."""
    verdict = judge_barcode(value, declared_type)
    if declared_type and isinstance(verdict, str):
        return []
    return [verdict_issue(verdict, value, declared_type, field)]


def barcode_format(value: str, declared_type: str | None) -> str | None:
    """The format name (e.g. "EAN-13", "UPC-E", "GTIN-12", "PLU") of a valid barcode, else None."""
    verdict = judge_barcode(value, declared_type)
    return verdict if isinstance(verdict, str) else None
