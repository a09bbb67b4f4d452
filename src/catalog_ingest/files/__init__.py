"""Reading and writing catalog files (CSV, JSON, JSON Lines, Excel) for toolkit and portal.

One module for both sides: ``catalog-ingest push`` and ``validate`` (the retailer toolkit)
and the web portal read files with the same readers, mapping and rules. It depends only on
``catalog_ingest.domain``, ``catalog_ingest.errors`` and file libraries (msgspec, openpyxl,
python-calamine), never on server or client code.

Reading::

    from catalog_ingest.files import read_catalog, SourceError

    try:
        for row_number, item, problems in read_catalog(data, "catalog.xlsx", sheet="Prices"):
            ...                       # problems: list[domain.issues.Issue], errors and warnings
    except SourceError as exc:        # the whole file: exc.code, exc.reason, exc.line
        ...

``read_catalog`` yields :class:`CatalogRow` (also ``.cells``: the row as read, ``.header``:
the file's columns, ``.valid``). :func:`open_catalog` inspects a file first (format, sheet,
SHA-256) and :func:`sheet_names` lists a workbook's sheets. :func:`check_columns` is the
file-level column check on its own (``NO_MATCHING_COLUMNS`` / ``MISSING_COLUMNS``, with a
mapping snippet guessed from the columns).

Writing: :func:`write_template` (``"csv"`` / ``"xlsx"``: the API fields as columns, barcode
columns as text) and :func:`write_errors_only` (the rejected rows in the uploader's format
with an error column first, which the readers ignore, so the file can be fixed and uploaded
again as it is); :func:`error_text` makes a row's error cell from its issues. Cells a
spreadsheet would execute are neutralised (``domain.spreadsheet.neutralise`` / ``protect``).

Lower level: ``sources`` (``inspect``, ``read_rows``, ``Row``), ``mapping`` (``ItemMapping``,
``load_mapping``), ``validate`` (``SourceValidator``, ``Problem``).
"""

from __future__ import annotations

from typing import IO

from catalog_ingest.files.catalog import CatalogRow, open_catalog, read_catalog
from catalog_ingest.files.columns import (
    MISSING_COLUMNS,
    NO_MATCHING_COLUMNS,
    ColumnsError,
    check_columns,
    mapping_snippet,
    suggest_mapping,
)
from catalog_ingest.files.excel import sheet_names as _sheet_names
from catalog_ingest.files.mapping import (
    IDENTITY,
    ItemMapping,
    MappingError,
    load_mapping,
    parse_mapping,
)
from catalog_ingest.files.records import (
    ERROR_COLUMN,
    SOURCE_UNREADABLE,
    FileInfo,
    Row,
    SourceError,
    SourceOptions,
)
from catalog_ingest.files.sources import FORMATS
from catalog_ingest.files.writers import (
    MEDIA_TYPES,
    TEMPLATE_COLUMNS,
    error_text,
    write_errors_only,
    write_template,
)


def sheet_names(workbook: IO[bytes], name: str = "workbook") -> list[str]:
    """The worksheet names of an xlsx/xlsm workbook (a binary stream), in workbook order;
    SourceError when it is not a readable workbook."""
    return _sheet_names(workbook, name)


__all__ = [
    "ERROR_COLUMN",
    "FORMATS",
    "IDENTITY",
    "MEDIA_TYPES",
    "MISSING_COLUMNS",
    "NO_MATCHING_COLUMNS",
    "SOURCE_UNREADABLE",
    "TEMPLATE_COLUMNS",
    "CatalogRow",
    "ColumnsError",
    "FileInfo",
    "ItemMapping",
    "MappingError",
    "Row",
    "SourceError",
    "SourceOptions",
    "check_columns",
    "error_text",
    "load_mapping",
    "mapping_snippet",
    "open_catalog",
    "parse_mapping",
    "read_catalog",
    "sheet_names",
    "suggest_mapping",
    "write_errors_only",
    "write_template",
]
