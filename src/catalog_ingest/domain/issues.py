"""Report issues: the stable codes a program branches on, and the Issue value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

Severity = Literal["ERROR", "WARNING"]

INVALID_BARCODE: Final = "INVALID_BARCODE"
BARCODE_TYPE_MISMATCH: Final = "BARCODE_TYPE_MISMATCH"
INVALID_CHECK_DIGIT: Final = "INVALID_CHECK_DIGIT"
UNKNOWN_BARCODE_TYPE: Final = "UNKNOWN_BARCODE_TYPE"
BARCODE_CONFLICT: Final = "BARCODE_CONFLICT"
DUPLICATE_BARCODE_IN_ITEM: Final = "DUPLICATE_BARCODE_IN_ITEM"
DUPLICATE_SKU_IN_UPLOAD: Final = "DUPLICATE_SKU_IN_UPLOAD"
INVALID_PRICE: Final = "INVALID_PRICE"
BLANK_ITEM_NAME: Final = "BLANK_ITEM_NAME"
UNKNOWN_ATTRIBUTE: Final = "UNKNOWN_ATTRIBUTE"
INFERRED_BARCODE_TYPE: Final = "INFERRED_BARCODE_TYPE"
SKU_NOT_FOUND: Final = "SKU_NOT_FOUND"
ALREADY_ARCHIVED: Final = "ALREADY_ARCHIVED"
# Request-model codes, used by local (client-side) validation; the service answers these
# synchronously with 400 "Invalid request body" instead of reporting them per item.
MISSING_FIELD: Final = "MISSING_FIELD"
WRONG_TYPE: Final = "WRONG_TYPE"
TOO_LONG: Final = "TOO_LONG"
TOO_MANY_ADDITIONAL_IDS: Final = "TOO_MANY_ADDITIONAL_IDS"
# Spreadsheet damage to barcodes (domain.spreadsheet), found when a file is read (local only):
# an ERROR when the value cannot be trusted, a WARNING for a number cell still a valid barcode.
SPREADSHEET_MANGLED_BARCODE: Final = "SPREADSHEET_MANGLED_BARCODE"
SPREADSHEET_NUMBER_BARCODE: Final = "SPREADSHEET_NUMBER_BARCODE"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found with one item: an ERROR rejects the item, a WARNING does not."""

    severity: Severity
    code: str
    field: str | None
    message: str
    value: Any = None

    @property
    def is_error(self) -> bool:
        return self.severity == "ERROR"

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form; `value` is omitted when there is none."""
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "field": self.field,
            "message": self.message,
        }
        if self.value is not None:
            out["value"] = self.value
        return out


def error(code: str, field: str | None, message: str, value: Any = None) -> Issue:
    return Issue("ERROR", code, field, message, value)


def warning(code: str, field: str | None, message: str, value: Any = None) -> Issue:
    return Issue("WARNING", code, field, message, value)
