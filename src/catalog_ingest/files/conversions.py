"""Conversions a mapping applies to source values: strings, prices, cents, barcodes, case."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from catalog_ingest.errors import ConfigurationError

Converter = Callable[[Any], Any]
_NUMBER_CHARS = re.compile(r"[^0-9.,\-]")
_POINT_ZERO = re.compile(r"(\d+)[.,]0+")


class MappingError(ConfigurationError):
    """The mapping file is not valid (bad usage: exit status 2)."""


class ConversionError(ValueError):
    """A value a conversion cannot handle; the row is reported invalid."""


# --- conversions ---------------------------------------------------------------------------------


def to_string(value: Any) -> Any:
    """JSON scalars and spreadsheet cells as the API's strings: 12 → "12", 4.5 → "4.5",
    1e2 → "100", a date → "2024-01-31" (ISO 8601); str unchanged."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()  # a date cell: Excel has no date-only type
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if value == value else repr(value)
    return value


def trim(value: Any) -> Any:
    """Strings without white space around them; other values unchanged."""
    return value.strip() if isinstance(value, str) else value


def _decimal(value: Any) -> Any:
    """Prices as people write them: "$4.99", "4,99", "1.234,50", "1,234.50" → "4.99" etc."""
    value = to_string(value)
    if not isinstance(value, str):
        return value
    text = _NUMBER_CHARS.sub("", value)
    if not text:
        return value.strip()
    comma, dot = text.rfind(","), text.rfind(".")
    if comma > dot:  # the comma is the decimal mark; dots group thousands
        return text.replace(".", "").replace(",", ".")
    return text.replace(",", "")


def _cents(value: Any) -> Any:
    """An integer number of cents as a decimal price: 499 → "4.99"."""
    value = to_string(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return str((Decimal(value.strip()) / 100).quantize(Decimal("0.01")))
    raise ConversionError(f"{value!r} is not a whole number of cents")


def _integer(value: Any) -> Any:
    """A whole number written as a decimal ("12.0", 12.0) without its fraction: "12"."""
    text = to_string(value)
    if not isinstance(text, str):
        return text
    try:
        number = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ConversionError(f"{value!r} is not a number") from exc
    if number != number.to_integral_value():
        raise ConversionError(f"{value!r} is not a whole number")
    return str(int(number))


def _digits(value: Any) -> Any:
    """Barcodes as printed: spaces and hyphens removed ("4 006381 333931" → "4006381333931"),
    a spreadsheet's ".0" too ("4006381333931.0" → "4006381333931")."""
    value = _integer(value) if isinstance(value, float) else to_string(value)
    if not isinstance(value, str):
        return value
    value = re.sub(r"[\s\-]", "", value)
    point = _POINT_ZERO.fullmatch(value)  # "4006381333931.0": a number written by a spreadsheet
    return point.group(1) if point else value


def _zfill(width: int) -> Converter:
    def pad(value: Any) -> Any:
        value = to_string(value)
        return value.zfill(width) if isinstance(value, str) and value.isdigit() else value

    return pad


def _case(method: str) -> Converter:
    return lambda value: getattr(value, method)() if isinstance(value, str) else value


_CONVERTERS: dict[str, Converter] = {
    "string": to_string, "trim": trim, "decimal": _decimal, "cents": _cents,
    "integer": _integer, "digits": _digits, "upper": _case("upper"), "lower": _case("lower"),
}


def converter(spec: str) -> Converter:
    """A converter by name: string, trim, decimal, cents, integer, digits, upper, lower, zfill:N."""
    name, _, arg = spec.partition(":")
    if name == "zfill" and arg.isdigit() and 0 < int(arg) <= 255:
        return _zfill(int(arg))
    if name in _CONVERTERS and not arg:
        return _CONVERTERS[name]
    known = ", ".join([*_CONVERTERS, "zfill:N"])
    raise MappingError(f"unknown conversion {spec!r} (known: {known})")
