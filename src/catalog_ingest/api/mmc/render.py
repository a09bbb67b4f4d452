"""Pure rendering of the Merchant-Center Status resource: status and error bodies, ``alt``.

No HTTP framework and no database here; the routes call these functions and send
``(body, media_type)`` as they come back.

Formats (``alt``): ``json`` (the default) and ``xml``, matched exactly and case-sensitively
(the seed lists exactly those two spellings); anything else, the empty string included, is a
``ValueError`` that the route maps to ``400`` with :data:`INVALID_QUERY_PARAMETER`.

* JSON is compact (no spaces), UTF-8, non-ASCII written as-is; media type
  ``application/json``.
* XML starts with ``<?xml version="1.0" encoding="utf-8"?>`` (no newline before the root),
  is UTF-8, and escapes ``&``, ``<``, ``>`` (so ``]]>`` cannot occur) and ``"``;
  a carriage return is written as ``&#13;`` so a parser gives it back instead of
  normalising it to a line feed; media type ``application/xml``.
* Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE and
  U+FFFF) are replaced by U+FFFD REPLACEMENT CHARACTER, never emitted raw. Lone surrogates
  (which UTF-8 cannot encode) are replaced by U+FFFD in JSON too.
* ``rejectionReportUrl`` / ``<rejection_report_url>`` is present only when
  ``rejected > 0`` **and** a URL is given; with ``rejected > 0`` and no URL it is omitted.
* Counts and ids are unsigned 64-bit (``ulong``); anything else is a ``ValueError``.

Error codes (``Code`` in an error body) and the HTTP status each goes with
(:data:`HTTP_STATUS_FOR_CODE`):

* ``InvalidQueryParameter`` (400): ``alt`` not ``json``/``xml``, or another bad query value.
* ``InvalidHeader`` (400): a malformed header, e.g. ``CustomerId`` without
  ``CustomerAccountId``.
* ``InvalidReportUrl`` (400): the pre-signed rejection-report link is expired or altered.
* ``AuthenticationTokenInvalid`` (401): ``AuthenticationToken`` or ``DeveloperToken``
  missing, unknown, expired or not matching.
* ``NotFound`` (404): merchant or catalog unknown, or not the token's retailer's.
* ``InternalError`` (500): any unexpected failure (no details leak into ``Message``).
"""

from __future__ import annotations

import json
import re
from typing import Final

from catalog_ingest.engine.merchant_center import (
    AUTHENTICATION_TOKEN_INVALID,
    INTERNAL_ERROR,
    INVALID_HEADER,
    INVALID_QUERY_PARAMETER,
    INVALID_REPORT_URL,
    NOT_FOUND,
)

__all__ = [
    "ALT_JSON",
    "ALT_XML",
    "AUTHENTICATION_TOKEN_INVALID",
    "HTTP_STATUS_FOR_CODE",
    "INTERNAL_ERROR",
    "INVALID_HEADER",
    "INVALID_QUERY_PARAMETER",
    "INVALID_REPORT_URL",
    "JSON_MEDIA_TYPE",
    "NOT_FOUND",
    "XML_MEDIA_TYPE",
    "parse_alt",
    "render_errors",
    "render_status",
    "xml_text",
]

JSON_MEDIA_TYPE: Final = "application/json"
XML_MEDIA_TYPE: Final = "application/xml"
ALT_JSON: Final = "json"
ALT_XML: Final = "xml"


HTTP_STATUS_FOR_CODE: Final[dict[str, int]] = {
    INVALID_QUERY_PARAMETER: 400,
    INVALID_HEADER: 400,
    INVALID_REPORT_URL: 400,
    AUTHENTICATION_TOKEN_INVALID: 401,
    NOT_FOUND: 404,
    INTERNAL_ERROR: 500,
}

_XML_DECLARATION: Final = '<?xml version="1.0" encoding="utf-8"?>'
_ULONG_MAX: Final = 2**64 - 1
# Everything outside XML 1.0's Char production, lone surrogates included.
_XML_INVALID: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_XML_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"}
)


def parse_alt(value: str | None) -> str:
    """Return ``"json"`` or ``"xml"`` for the ``alt`` query value (absent means json).

    Exact and case-sensitive; any other value, ``""`` included, raises ``ValueError``.
    """
    if value is None:
        return ALT_JSON
    if value in (ALT_JSON, ALT_XML):
        return value
    raise ValueError(f"alt must be 'json' or 'xml', not {value!r}")


def xml_text(value: str) -> str:
    """Return ``value`` escaped for XML 1.0 element content, invalid characters → U+FFFD."""
    return _XML_INVALID.sub("\ufffd", value).translate(_XML_ESCAPES)


def _json_bytes(obj: object) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def _xml_bytes(body: str) -> bytes:
    return (_XML_DECLARATION + body).encode("utf-8")


def _ulong(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _ULONG_MAX:
        raise ValueError(f"{name} must be an unsigned 64-bit integer, not {value!r}")
    return value


def _check_alt(alt: str) -> None:
    if alt not in (ALT_JSON, ALT_XML):
        raise ValueError(f"alt must be 'json' or 'xml', not {alt!r}")


def render_status(
    catalog_id: int, published: int, rejected: int, report_url: str | None, alt: str
) -> tuple[bytes, str]:
    """Render the Status object as ``(body, media_type)`` for ``alt`` ``"json"``/``"xml"``."""
    _check_alt(alt)
    catalog_id = _ulong("catalog_id", catalog_id)
    published = _ulong("published", published)
    rejected = _ulong("rejected", rejected)
    url = report_url if rejected > 0 else None
    if alt == ALT_JSON:
        obj: dict[str, object] = {
            "catalogId": catalog_id,
            "publishedCount": published,
            "rejectedCount": rejected,
        }
        if url is not None:
            obj["rejectionReportUrl"] = url
        return _json_bytes(obj), JSON_MEDIA_TYPE
    parts = [
        "<catalogStatus>",
        f"<catalog_id>{catalog_id}</catalog_id>",
        f"<published_count>{published}</published_count>",
        f"<rejected_count>{rejected}</rejected_count>",
    ]
    if url is not None:
        parts.append(f"<rejection_report_url>{xml_text(url)}</rejection_report_url>")
    parts.append("</catalogStatus>")
    return _xml_bytes("".join(parts)), XML_MEDIA_TYPE


def render_errors(errors: list[tuple[str, str]], alt: str) -> tuple[bytes, str]:
    """Render ``[(code, message), ...]`` as an ``Errors`` body: ``(body, media_type)``."""
    _check_alt(alt)
    if alt == ALT_JSON:
        obj = {"Errors": [{"Code": code, "Message": message} for code, message in errors]}
        return _json_bytes(obj), JSON_MEDIA_TYPE
    items = "".join(
        f"<Error><Code>{xml_text(code)}</Code><Message>{xml_text(message)}</Message></Error>"
        for code, message in errors
    )
    return _xml_bytes(f"<Errors>{items}</Errors>"), XML_MEDIA_TYPE
