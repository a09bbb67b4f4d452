"""The push's local validation: re-exported from the shared ``catalog_ingest.files`` module."""

from catalog_ingest.files.crossitem import CrossItemState, MemoryState
from catalog_ingest.files.validate import (
    CONVERSION_FAILED,
    UNREADABLE_ROW,
    Checked,
    Problem,
    SourceValidator,
    check_rows,
    identity,
)

__all__ = [
    "CONVERSION_FAILED",
    "UNREADABLE_ROW",
    "Checked",
    "CrossItemState",
    "MemoryState",
    "Problem",
    "SourceValidator",
    "check_rows",
    "identity",
]
