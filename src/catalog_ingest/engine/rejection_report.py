"""Build the Merchant-Center rejection report: ``MerchantCatalogReport.csv`` inside a ZIP.

Layout (spec ``mmc-api.md``, "The rejection report")::

    Catalog Name,Catalog Id,Store Id,Upload Time
    <catalog name>,<catalog id>,<store id>,<upload time>

    Item Id,Message,Type,Values,Offer Snippet
    <item sku>,<messages>,Error,<values>,<title;productType;link;imageLink;price;...>

Decisions:

* One body row per :class:`RejectedRow`, in the order given; nothing is deduplicated or
  sorted here (the caller passes one row per rejected SKU). ``Type`` is always ``Error``.
* ``messages`` and ``values`` are each joined with ``"; "``; an empty list is an empty cell.
  Nothing inside a message or value is escaped, so a ``"; "`` inside one is ambiguous.
* Offer Snippet: ``title;productType;link;imageLink;price;salePrice;saleStartDate;saleEndDate``
  with only title, productType and price filled (``None`` → empty), separators always kept,
  e.g. ``Milk;Dairy;;;1.99;;;``. A ``;`` inside a component is written as-is (the format
  has no escape for it).
* RFC 4180: ``csv`` with ``QUOTE_MINIMAL`` and ``\\r\\n`` line ends (a field holding a comma,
  quote, CR or LF is quoted, quotes doubled); UTF-8 **without** a BOM. Lone surrogates,
  which UTF-8 cannot encode, become U+FFFD.
* Formula neutralisation is per cell, on the whole cell string: every data cell (header data
  included: catalog name, catalog id, store id, upload time; and every body cell, the
  snippet as a whole) that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading
  ``'``. Only the cell's first character counts: a snippet whose title starts with ``=``
  becomes ``'=...``, a ``Values`` cell ``-1`` becomes ``'-1``, but a price ``-1`` inside
  the snippet (not at its start) is left alone.
* The ZIP holds one member, ``MerchantCatalogReport.csv``, deflated, with a fixed timestamp
  (1980-01-01 00:00:00) and mode 0644, so equal CSV bytes give equal ZIP bytes.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

REPORT_MEMBER_NAME: Final = "MerchantCatalogReport.csv"
ZIP_MEDIA_TYPE: Final = "application/x-zip-compressed"
HEADER_NAMES: Final = ("Catalog Name", "Catalog Id", "Store Id", "Upload Time")
BODY_NAMES: Final = ("Item Id", "Message", "Type", "Values", "Offer Snippet")
ROW_TYPE: Final = "Error"
JOIN: Final = "; "

_DANGEROUS_LEADS: Final = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_FIXED_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One rejected SKU's report row: its errors, offending values and offer data."""

    item_sku: str
    messages: list[str]
    values: list[str]
    title: str | None
    product_type: str | None
    price: str | None


def neutralise(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula; others are unchanged."""
    return "'" + cell if cell.startswith(_DANGEROUS_LEADS) else cell


def offer_snippet(title: str | None, product_type: str | None, price: str | None) -> str:
    """Return ``title;productType;link;imageLink;price;salePrice;saleStartDate;saleEndDate``."""
    return f"{title or ''};{product_type or ''};;;{price or ''};;;"


def _body_row(row: RejectedRow) -> list[str]:
    return [
        neutralise(row.item_sku),
        neutralise(JOIN.join(row.messages)),
        ROW_TYPE,
        neutralise(JOIN.join(row.values)),
        neutralise(offer_snippet(row.title, row.product_type, row.price)),
    ]


def build_csv(
    catalog_name: str,
    catalog_id: int,
    store_id: str,
    upload_time: str,
    rows: Iterable[RejectedRow],
) -> bytes:
    """Return the report CSV (UTF-8, no BOM, CRLF) for ``rows``, in the order given."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER_NAMES)
    header = (catalog_name, str(catalog_id), store_id, upload_time)
    writer.writerow([neutralise(cell) for cell in header])
    writer.writerow([])
    writer.writerow(BODY_NAMES)
    writer.writerows(_body_row(row) for row in rows)
    text = out.getvalue()
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def build_zip(csv_bytes: bytes) -> bytes:
    """Return a deterministic ZIP holding ``csv_bytes`` as ``MerchantCatalogReport.csv``."""
    info = zipfile.ZipInfo(REPORT_MEMBER_NAME, date_time=_FIXED_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(info, csv_bytes)
    return buf.getvalue()
