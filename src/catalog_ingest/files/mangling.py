"""Barcodes a spreadsheet mangled, found in rows as read: the rule is domain.spreadsheet's."""

from __future__ import annotations

from typing import Any, Final

from catalog_ingest.domain.issues import (
    SPREADSHEET_MANGLED_BARCODE,
    SPREADSHEET_NUMBER_BARCODE,
    Issue,
    error,
    warning,
)
from catalog_ingest.domain.items import ADDITIONAL_IDS
from catalog_ingest.domain.rules import additional_field
from catalog_ingest.domain.spreadsheet import barcode_mangling
from catalog_ingest.files.mapping import ItemMapping, lookup
from catalog_ingest.files.records import Row

PRIMARY: Final = "external_product_id"
#: Lengths at which a string of digits may be a barcode that lost leading zeros.
_ZERO_LOSS_LENGTHS: Final = frozenset((7, 9, 10, 11))


def mangling_issues(row: Row, item: Any, mapping: ItemMapping) -> list[Issue]:
    """Issues for the item's barcodes that show spreadsheet damage.

    The primary barcode is judged on the cell as read when it is a number cell of a sheet and
    the mapping does not convert it; otherwise (and for additional barcodes) on the value the
    mapping made, so that a conversion the user chose (``digits``, ``zfill:N``) counts.
    """
    if not isinstance(item, dict):
        return []
    found: list[Issue] = []
    value = item.get(PRIMARY)
    if row.typed and not mapping.convert.get(PRIMARY):
        column = mapping.column_for(PRIMARY)
        raw = lookup(row.data, column) if column and isinstance(row.data, dict) else None
        if _number(raw):
            value = raw
    if type(value) is str and value.isdigit() and len(value) not in _ZERO_LOSS_LENGTHS:
        pass  # the common case, checked cheaply: digits alone can only have lost zeros
    elif isinstance(value, str | int | float):
        _judge(found, PRIMARY, value)
    extras = item.get(ADDITIONAL_IDS)
    if isinstance(extras, list):
        for index, entry in enumerate(extras):
            code = entry.get(PRIMARY) if isinstance(entry, dict) else None
            if isinstance(code, str):
                _judge(found, additional_field(index), code)
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _judge(found: list[Issue], field: str, value: str | int | float) -> None:
    damage = barcode_mangling(value)
    if damage is None:
        return
    shown = value if isinstance(value, str) else repr(value)
    if damage.fatal:
        found.append(error(SPREADSHEET_MANGLED_BARCODE, field,
                           f"Barcode mangled by a spreadsheet: {damage.cause}", shown))
    else:
        found.append(warning(SPREADSHEET_NUMBER_BARCODE, field, damage.cause, shown))
