"""Spreadsheet hazards: barcodes a spreadsheet mangled, and cells a spreadsheet would execute.

Pure rules (stdlib only), shared by the toolkit's readers, the portal and the report writers.

How spreadsheets damage barcodes, and what :func:`barcode_mangling` says about each:

* **Scientific notation** (``4.00638E+12``): a number too wide for its column is shown in
  short form, and a CSV export writes what is shown. The digits after the sixth are gone:
  fatal, nothing can repair it.
* **A trailing ``.0``** (``4006381333931.0``): the barcode was a number and was written with a
  decimal point. Fatal unless the mapping converts it (``digits``, ``integer``).
* **Lost leading zeros**: a UPC-A ``012345678905`` stored as a number becomes the 11 digits
  ``12345678905``. When the value is not a barcode as it is but is one once zero-filled to 12
  digits (a UPC-A; to 8 for a 7-digit EAN-8/UPC-E), that is the cause named. Fatal.
* **A number cell** (an Excel cell holding a number, not text): leading zeros are dropped and
  digits past the 15th rounded. A whole number whose digits are still a valid barcode
  (GS1 check digits are not changed by leading zeros) is not fatal: it is read as those
  digits with a warning, because refusing every numeric barcode column of an Excel export
  would be unhelpful. Fractions, more than 15 digits and lost zeros are fatal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from catalog_ingest.domain.barcodes import judge_barcode

#: Leading characters that make a spreadsheet run a cell as a formula (OWASP's list).
FORMULA_LEADS: Final = ("=", "+", "-", "@", "\t", "\r")

_PROTECTED_LEADS: Final = (*FORMULA_LEADS, "'")
_SCIENTIFIC: Final = re.compile(r"[+-]?\d+(?:[.,]\d*)?[eE][+-]?\d+")
_POINT_ZERO: Final = re.compile(r"(\d+)[.,]0+")
#: Digits a spreadsheet number keeps exactly (IEEE doubles: 15 significant decimal digits).
_EXACT_DIGITS: Final = 15
_TEXT_ADVICE: Final = "format the barcode column as Text and enter the barcodes again"


@dataclass(frozen=True, slots=True)
class Mangling:
    """What a spreadsheet did to a barcode value.

    ``fatal``: the value cannot be trusted (reject the row); otherwise ``digits`` is the barcode
    to use. ``cause`` is one or two sentences naming the cause and the fix.
    """

    fatal: bool
    cause: str
    digits: str | None = None


def neutralise(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula; other cells are unchanged."""
    return "'" + cell if cell.startswith(FORMULA_LEADS) else cell


def unneutralise(cell: str) -> str:
    """Undo :func:`neutralise`: drop a ``'`` that stands before a formula lead."""
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_LEADS:
        return cell[1:]
    return cell


def protect(cell: str) -> str:
    """:func:`neutralise`, and a ``'`` before a cell that starts with ``'`` too, so that
    :func:`unprotect` gives back exactly ``cell`` (for files meant to be uploaded again)."""
    return "'" + cell if cell.startswith(_PROTECTED_LEADS) else cell


def unprotect(cell: str) -> str:
    """Undo :func:`protect`."""
    if cell.startswith("'") and cell[1:2] and cell[1] in _PROTECTED_LEADS:
        return cell[1:]
    return cell


def barcode_mangling(value: str | int | float) -> Mangling | None:
    """How a spreadsheet damaged the barcode ``value`` as read from a file, or None.

    A ``str`` is text as read (a CSV cell, a text cell); an ``int`` or ``float`` is a number
    cell of a workbook. Never raises.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _number_cell(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # the common case: only zeros can be missing
        return _lost_zeros(text, "")
    if _SCIENTIFIC.fullmatch(text):
        return Mangling(True, f"{text} is in scientific notation: a spreadsheet showed the "
                        "barcode as a short number and saved only its first digits (the rest "
                        f"are lost); {_TEXT_ADVICE}")
    point = _POINT_ZERO.fullmatch(text)
    if point:
        return Mangling(True, f"{text} ends in {text[len(point.group(1)):]}: a spreadsheet "
                        f"stored the barcode as a number; write it as {point.group(1)} "
                        "(format the column as Text)")
    return None


def _number_cell(value: int | float) -> Mangling:
    shown = repr(value)
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return Mangling(True, f"the cell holds the number {shown}, not a barcode; "
                        f"{_TEXT_ADVICE}")
    digits = str(abs(int(value)))
    if value < 0:
        return Mangling(True, f"the cell holds the negative number {shown}; {_TEXT_ADVICE}")
    if len(digits) > _EXACT_DIGITS:
        return Mangling(True, f"the cell holds the number {digits}, longer than the 15 digits "
                        f"a spreadsheet keeps exactly (its last digits were rounded); "
                        f"{_TEXT_ADVICE}")
    found = _lost_zeros(digits, " (the cell is a number)")
    if found is not None:
        return found
    return Mangling(False, f"the barcode is stored as a number cell ({digits}), not text: a "
                    "spreadsheet drops leading zeros from numbers; read as "
                    f"{digits}; format the column as Text", digits)


def _lost_zeros(digits: str, note: str) -> Mangling | None:
    """The lost-leading-zero cause, when ``digits`` is no barcode but is one zero-filled."""
    if not (digits.isascii() and digits.isdigit()):
        return None
    width = 12 if 9 <= len(digits) <= 11 else 8 if len(digits) == 7 else 0
    if not width or isinstance(judge_barcode(digits, None), str):
        return None
    filled = digits.zfill(width)
    verdict = judge_barcode(filled, None)
    if not isinstance(verdict, str):
        return None
    zeros = "its leading zero" if width - len(digits) == 1 else "its leading zeros"
    return Mangling(True, f"{digits}{note} has {len(digits)} digits but {filled} is a valid "
                    f"{verdict}: a spreadsheet dropped {zeros}; write {filled} (format the "
                    "column as Text, or map it with convert = \"zfill:"
                    f"{width}\")")
