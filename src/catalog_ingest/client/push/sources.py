"""The push's sources: re-exported from the shared ``catalog_ingest.files`` readers."""

from catalog_ingest.files.sources import (
    CSV_DELIMITERS,
    FORMATS,
    FileInfo,
    Row,
    SourceError,
    SourceOptions,
    bytes_read,
    detect_format,
    inspect,
    read_rows,
    sniff_delimiter,
)

__all__ = [
    "CSV_DELIMITERS",
    "FORMATS",
    "FileInfo",
    "Row",
    "SourceError",
    "SourceOptions",
    "bytes_read",
    "detect_format",
    "inspect",
    "read_rows",
    "sniff_delimiter",
]
