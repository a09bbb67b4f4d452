"""File-level column checks: a file whose columns cannot make items is said so once.

Without this, a CSV whose columns are ``sku,barcode,name,store,price`` gave one MISSING_FIELD
per row and required field. Instead, before the first row is validated:

* identity mapping (no ``--mapping``) and no column is an API field: ``NO_MATCHING_COLUMNS``;
* identity mapping, a table (CSV, sheet) with no column for a required field that is not
  given otherwise (``--store``, a constant): ``MISSING_COLUMNS``;
* a mapping whose ``[columns]`` or ``additional_ids`` name a column the table does not have:
  ``MISSING_COLUMNS``.

Each message lists the file's columns and, for the first two, a mapping snippet with a guess
for each field (``sku`` → ``item_sku``, ``barcode`` → ``external_product_id`` ...). JSON files
have no header: only the first check applies, to the first record's keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from catalog_ingest.domain.issues import Issue, error
from catalog_ingest.domain.items import KNOWN_FIELDS, OPTIONAL_FIELDS, REQUIRED_FIELDS
from catalog_ingest.files.mapping import IDENTITY, ItemMapping
from catalog_ingest.files.records import ERROR_COLUMN, SourceError

NO_MATCHING_COLUMNS: Final = "NO_MATCHING_COLUMNS"
MISSING_COLUMNS: Final = "MISSING_COLUMNS"

#: Column names (compared lower-case, letters and digits only) that usually mean a field.
_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "item_sku": ("sku", "itemsku", "article", "articleno", "articlenumber", "itemno",
                 "itemnumber", "itemid", "productcode", "productid", "code", "ref", "id"),
    "external_product_id": ("barcode", "ean", "ean13", "upc", "gtin", "gtin13", "upca",
                            "externalproductid", "eancode", "barcodes", "plu"),
    "external_product_id_type": ("barcodetype", "type", "eantype", "idtype",
                                 "externalproductidtype"),
    "item_name": ("name", "itemname", "title", "description", "productname", "product",
                  "label"),
    "store_id": ("store", "storeid", "shop", "shopid", "location", "branch", "storecode"),
    "standard_price": ("price", "standardprice", "retailprice", "unitprice", "saleprice",
                       "amount"),
    "brand_name": ("brand", "brandname", "manufacturer", "make"),
    "product_tax_code": ("tax", "taxcode", "producttaxcode", "vat", "taxclass"),
    "product_category": ("category", "productcategory", "department", "group"),
    "product_subcategory": ("subcategory", "productsubcategory", "subgroup"),
}
_NOT_ALNUM: Final = re.compile(r"[^0-9a-z]+")


class ColumnsError(SourceError):
    """The file's columns cannot make items: one problem for the whole file."""

    def __init__(self, file: str, line: int | None, issue: Issue) -> None:
        super().__init__(file, line, issue.message)
        self.code = issue.code
        self.issue = issue


def suggest_mapping(columns: Sequence[str]) -> dict[str, str]:
    """A guess of the column for each API field (only fields some column looks like)."""
    keys = {_key(c): c for c in reversed(columns) if c != ERROR_COLUMN}
    guess: dict[str, str] = {}
    used: set[str] = set()
    for field, names in _SYNONYMS.items():
        for name in names:
            column = keys.get(name)
            if column is not None and column not in used:
                guess[field] = column
                used.add(column)
                break
    return guess


def mapping_snippet(columns: Sequence[str], constants: Sequence[str] = ()) -> str:
    """A mapping file's ``[columns]`` table guessed for these columns, to fill in and use."""
    guess = suggest_mapping(columns)
    lines = ["[columns]"]
    for field in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        if field in constants:
            continue
        if field in guess:
            lines.append(f"{field} = {_quote(guess[field])}")
        elif field in REQUIRED_FIELDS:
            lines.append(f"# {field} = \"...\"    (required: no column looks like it)")
    rest = [c for c in columns if c not in guess.values() and c != ERROR_COLUMN]
    if rest:
        lines.append(f"# not mapped: {', '.join(_quote(c) for c in rest)}")
    return "\n".join(lines)


def check_columns(columns: Sequence[str], mapping: ItemMapping | None = None, *,
                  tabular: bool = True) -> Issue | None:
    """The one file-level problem with a file's columns under ``mapping``, or None.

    ``columns`` are the header of a CSV file or a sheet (``tabular``), or the keys of the
    first record of a JSON file (``tabular=False``: only "no column matches" is checked).
    The Issue's code is NO_MATCHING_COLUMNS or MISSING_COLUMNS, its field None and its
    message says what to do, with a mapping snippet when no mapping was given.
    """
    mapping = mapping or IDENTITY
    names = [c for c in columns if c != ERROR_COLUMN]
    listed = ", ".join(names) or "none"
    if not mapping.is_identity:
        return _absent(names, mapping, listed) if tabular else None
    if not any(c in KNOWN_FIELDS for c in names):
        snippet = mapping_snippet(names, tuple(mapping.constants))
        return error(NO_MATCHING_COLUMNS, None,
                     f"no column of the file is an API field (its columns: {listed}); "
                     "name the columns as the API does (see the template), or map them "
                     f"with a mapping file (--mapping FILE.toml), for example:\n{snippet}")
    missing = [f for f in REQUIRED_FIELDS if f not in names and f not in mapping.constants]
    if not tabular or not missing:
        return None
    hint = " (or give --store STORE_ID)" if "store_id" in missing else ""
    snippet = mapping_snippet(names, tuple(mapping.constants))
    return error(MISSING_COLUMNS, None,
                 f"the file has no column for the required field(s) {', '.join(missing)} "
                 f"(its columns: {listed}); add them{hint}, or map the file's columns with "
                 f"a mapping file (--mapping FILE.toml), for example:\n{snippet}")


def _absent(names: list[str], mapping: ItemMapping, listed: str) -> Issue | None:
    present = set(names)
    wanted = [(column, field) for field, column in mapping.columns.items()]
    wanted += [(extra.column, "additional_ids") for extra in mapping.additional_ids]
    absent = [f"{column!r} (for {field})" for column, field in wanted if column not in present]
    if not absent:
        return None
    return error(MISSING_COLUMNS, None,
                 f"the mapping names column(s) {', '.join(absent)}, which the file does not "
                 f"have (its columns: {listed})")


def _key(column: str) -> str:
    return _NOT_ALNUM.sub("", column.lower())


def _quote(text: str) -> str:
    """A TOML basic string of ``text``.

    Not `json.dumps`: it writes a character beyond U+FFFF as a \\u surrogate pair, which
    TOML refuses (an emoji in a column name broke the snippet). Only the quote, the
    backslash and control characters are escaped; the rest is written as it is."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate has no TOML spelling
            out.append("\uFFFD")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
