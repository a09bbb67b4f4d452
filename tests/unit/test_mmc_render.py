"""Unit tests for the Merchant-Center Status resource rendering (status, errors, alt)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.api.mmc.render import (
    AUTHENTICATION_TOKEN_INVALID,
    HTTP_STATUS_FOR_CODE,
    INTERNAL_ERROR,
    INVALID_HEADER,
    INVALID_QUERY_PARAMETER,
    INVALID_REPORT_URL,
    JSON_MEDIA_TYPE,
    NOT_FOUND,
    XML_MEDIA_TYPE,
    parse_alt,
    render_errors,
    render_status,
    xml_text,
)

DECL = b'<?xml version="1.0" encoding="utf-8"?>'
URL = 'https://reports.example/r/abc?X-Expires=3600&X-Signature=a%2Fb&x=<y>"z"'
# st.text() leaves out lone surrogates; the second strategy adds them ("excluding nothing").
ANY_TEXT = st.one_of(st.text(), st.text(st.characters(exclude_categories=())))
HOSTILE = [
    'He said "hi", then left',
    "line1\nline2",
    "line1\r\nline2",
    "lone\rcr",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\tleading tab",
    "<script>alert(1)</script>",
    "a & b &amp; c",
    "]]>",
    "<![CDATA[x]]>",
    "café 中文 🎉",
    "x" * 255,
    "'apostrophe'",
    "",
]


def _xml_expected(value: str) -> str:
    """What a parser gives back: characters invalid in XML 1.0 replaced by U+FFFD."""

    def ok(c: str) -> bool:
        o = ord(c)
        return (
            c in "\t\n\r"
            or 0x20 <= o <= 0xD7FF
            or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF
        )

    return "".join(c if ok(c) else "\ufffd" for c in value)


def _json_expected(value: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)


# --- parse_alt -------------------------------------------------------------------------


def test_parse_alt_default_and_valid() -> None:
    assert parse_alt(None) == "json"
    assert parse_alt("json") == "json"
    assert parse_alt("xml") == "xml"


@pytest.mark.parametrize(
    "value", ["", "JSON", "Json", "XML", "Xml", " json", "json ", "yaml", "xml\x00", "jsonp"]
)
def test_parse_alt_rejects_everything_else(value: str) -> None:
    with pytest.raises(ValueError):
        parse_alt(value)


# --- render_status ---------------------------------------------------------------------


def test_status_json_with_url_is_compact_and_exact() -> None:
    body, media = render_status(123, 9990, 10, "https://x.example/r?a=1&b=2", "json")
    assert media == JSON_MEDIA_TYPE == "application/json"
    assert body == (
        b'{"catalogId":123,"publishedCount":9990,"rejectedCount":10,'
        b'"rejectionReportUrl":"https://x.example/r?a=1&b=2"}'
    )


@pytest.mark.parametrize("url", [None, "https://x.example/r"])
def test_status_json_omits_url_when_nothing_rejected(url: str | None) -> None:
    body, _ = render_status(123, 5, 0, url, "json")
    assert json.loads(body) == {"catalogId": 123, "publishedCount": 5, "rejectedCount": 0}
    assert b"rejectionReportUrl" not in body


def test_status_json_omits_url_when_none_given() -> None:
    body, _ = render_status(1, 0, 3, None, "json")
    assert json.loads(body) == {"catalogId": 1, "publishedCount": 0, "rejectedCount": 3}


def test_status_xml_exact() -> None:
    body, media = render_status(123, 9990, 10, "https://x.example/r?a=1&b=2", "xml")
    assert media == XML_MEDIA_TYPE == "application/xml"
    assert body == DECL + (
        b"<catalogStatus><catalog_id>123</catalog_id><published_count>9990</published_count>"
        b"<rejected_count>10</rejected_count>"
        b"<rejection_report_url>https://x.example/r?a=1&amp;b=2</rejection_report_url>"
        b"</catalogStatus>"
    )


def test_status_xml_url_round_trips_exactly() -> None:
    body, _ = render_status(7, 1, 2, URL, "xml")
    assert body.startswith(DECL)
    root = ET.fromstring(body)
    assert root.tag == "catalogStatus"
    assert [child.tag for child in root] == [
        "catalog_id",
        "published_count",
        "rejected_count",
        "rejection_report_url",
    ]
    assert root.findtext("rejection_report_url") == URL
    assert b"&amp;" in body and b"&X-" not in body


def test_status_xml_omits_url_when_nothing_rejected() -> None:
    body, _ = render_status(7, 1, 0, URL, "xml")
    root = ET.fromstring(body)
    assert root.find("rejection_report_url") is None
    assert (root.findtext("catalog_id"), root.findtext("rejected_count")) == ("7", "0")


def test_status_accepts_full_ulong_range() -> None:
    top = 2**64 - 1
    body, _ = render_status(top, top, top, "u", "json")
    assert json.loads(body)["catalogId"] == top
    assert ET.fromstring(render_status(top, 0, 0, None, "xml")[0]).findtext("catalog_id") == str(
        top
    )


@pytest.mark.parametrize("bad", [-1, 2**64, True])
def test_status_rejects_non_ulong(bad: int) -> None:
    with pytest.raises(ValueError):
        render_status(bad, 0, 0, None, "json")
    with pytest.raises(ValueError):
        render_status(1, bad, 0, None, "xml")
    with pytest.raises(ValueError):
        render_status(1, 0, bad, None, "json")


@pytest.mark.parametrize("alt", ["", "JSON", "html"])
def test_renderers_reject_unknown_alt(alt: str) -> None:
    with pytest.raises(ValueError):
        render_status(1, 0, 0, None, alt)
    with pytest.raises(ValueError):
        render_errors([], alt)


# --- render_errors ---------------------------------------------------------------------


def test_errors_json_exact() -> None:
    body, media = render_errors([(NOT_FOUND, "Catalog not found.")], "json")
    assert media == "application/json"
    assert body == b'{"Errors":[{"Code":"NotFound","Message":"Catalog not found."}]}'


def test_errors_xml_exact() -> None:
    body, media = render_errors(
        [(INVALID_QUERY_PARAMETER, "alt must be json or xml & <more>")], "xml"
    )
    assert media == "application/xml"
    assert body == DECL + (
        b"<Errors><Error><Code>InvalidQueryParameter</Code>"
        b"<Message>alt must be json or xml &amp; &lt;more&gt;</Message></Error></Errors>"
    )


def test_errors_empty_list() -> None:
    assert json.loads(render_errors([], "json")[0]) == {"Errors": []}
    root = ET.fromstring(render_errors([], "xml")[0])
    assert root.tag == "Errors" and len(root) == 0


def test_errors_several_in_order() -> None:
    errors = [(INVALID_HEADER, "one"), (AUTHENTICATION_TOKEN_INVALID, "two")]
    root = ET.fromstring(render_errors(errors, "xml")[0])
    got = [(e.findtext("Code"), e.findtext("Message")) for e in root.findall("Error")]
    assert got == errors
    assert json.loads(render_errors(errors, "json")[0]) == {
        "Errors": [{"Code": c, "Message": m} for c, m in errors]
    }


@pytest.mark.parametrize("hostile", HOSTILE)
def test_errors_hostile_text_round_trips(hostile: str) -> None:
    xml_body, _ = render_errors([(hostile, hostile)], "xml")
    error = ET.fromstring(xml_body).find("Error")
    assert error is not None
    assert error.findtext("Code") == hostile
    assert error.findtext("Message") == hostile
    assert b"<script>" not in xml_body and b"]]>" not in xml_body
    json_body, _ = render_errors([(hostile, hostile)], "json")
    assert json.loads(json_body) == {"Errors": [{"Code": hostile, "Message": hostile}]}


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]
)
def test_xml_invalid_characters_become_replacement_char(char: str) -> None:
    assert xml_text(f"a{char}b") == "a\ufffdb"
    body, _ = render_errors([("C", f"a{char}b")], "xml")
    assert char.encode("utf-8", "surrogatepass") not in body
    assert ET.fromstring(body).findtext("Error/Message") == "a\ufffdb"


def test_xml_keeps_tab_newline_and_carriage_return() -> None:
    text = "\ta\nb\r\nc\r"
    body, _ = render_errors([("C", text)], "xml")
    assert b"&#13;" in body
    assert ET.fromstring(body).findtext("Error/Message") == text


def test_json_lone_surrogate_becomes_replacement_char() -> None:
    body, _ = render_errors([("C", "a\ud800b")], "json")
    assert json.loads(body.decode("utf-8"))["Errors"][0]["Message"] == "a\ufffdb"


def test_json_keeps_non_ascii_raw_utf8() -> None:
    body, _ = render_errors([("C", "café 中文 🎉")], "json")
    assert "café 中文 🎉".encode() in body


def test_error_code_constants_and_statuses() -> None:
    assert HTTP_STATUS_FOR_CODE == {
        INVALID_QUERY_PARAMETER: 400,
        INVALID_HEADER: 400,
        INVALID_REPORT_URL: 400,
        AUTHENTICATION_TOKEN_INVALID: 401,
        NOT_FOUND: 404,
        INTERNAL_ERROR: 500,
    }
    assert len(set(HTTP_STATUS_FOR_CODE)) == 6


# --- properties ------------------------------------------------------------------------


@settings(deadline=None)
@given(
    url=ANY_TEXT,
    catalog_id=st.integers(0, 2**64 - 1),
    published=st.integers(0, 2**64 - 1),
    rejected=st.integers(0, 2**64 - 1),
)
def test_status_always_parses(url: str, catalog_id: int, published: int, rejected: int) -> None:
    xml_body, _ = render_status(catalog_id, published, rejected, url, "xml")
    root = ET.fromstring(xml_body)
    assert root.findtext("catalog_id") == str(catalog_id)
    assert root.findtext("rejection_report_url") == (_xml_expected(url) if rejected else None)
    obj = json.loads(render_status(catalog_id, published, rejected, url, "json")[0])
    assert obj.get("rejectionReportUrl") == (_json_expected(url) if rejected else None)


@settings(deadline=None)
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=4))
def test_errors_always_parse(errors: list[tuple[str, str]]) -> None:
    root = ET.fromstring(render_errors(errors, "xml")[0])
    got = [(e.findtext("Code"), e.findtext("Message")) for e in root.findall("Error")]
    assert got == [(_xml_expected(c), _xml_expected(m)) for c, m in errors]
    obj = json.loads(render_errors(errors, "json")[0].decode("utf-8"))
    assert obj == {
        "Errors": [{"Code": _json_expected(c), "Message": _json_expected(m)} for c, m in errors]
    }
