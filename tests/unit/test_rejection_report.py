"""Unit tests for the Merchant-Center rejection report CSV and its ZIP wrapper."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.engine.rejection_report import (
    BODY_NAMES,
    HEADER_NAMES,
    REPORT_MEMBER_NAME,
    RejectedRow,
    build_csv,
    build_zip,
    neutralise,
    offer_snippet,
)

HEADER_ROW = ["Catalog Name", "Catalog Id", "Store Id", "Upload Time"]
BODY_ROW = ["Item Id", "Message", "Type", "Values", "Offer Snippet"]
TIME = "2024-05-01T12:00:00Z"
DANGEROUS = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\tleading tab",
    "\rleading cr",
    "=",
    "-",
]
SAFE = [
    'He said "hi", then left',
    "a,b,c",
    "line1\nline2",
    "line1\r\nline2",
    "<script>alert(1)</script>",
    "a & b",
    "]]>",
    "café 中文 🎉",
    "x" * 255,
    " =leading space",
    "'already quoted",
    "1-2",
    "a=b",
    "\nleading lf",
    "",
]
# st.text() leaves out lone surrogates; the second strategy adds them ("excluding nothing").
ANY_TEXT = st.one_of(st.text(), st.text(st.characters(exclude_categories=())))


def _row(sku: str = "SKU-1", **kw: object) -> RejectedRow:
    fields: dict[str, object] = {
        "messages": ["Invalid price"],
        "values": ["abc"],
        "title": "Milk",
        "product_type": "Dairy",
        "price": "1.99",
    }
    fields.update(kw)
    return RejectedRow(item_sku=sku, **fields)  # type: ignore[arg-type]


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _read_zip(data: bytes) -> list[list[str]]:
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        archive.open(REPORT_MEMBER_NAME) as member,
    ):
        return list(csv.reader(io.TextIOWrapper(member, encoding="utf-8", newline="")))


def _no_surrogates(value: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)


# --- layout ----------------------------------------------------------------------------


def test_exact_bytes_simple_report() -> None:
    data = build_csv("Groceries", 123, "store-9", TIME, [_row("SKU-1"), _row("SKU-2")])
    assert data == (
        b"Catalog Name,Catalog Id,Store Id,Upload Time\r\n"
        b"Groceries,123,store-9,2024-05-01T12:00:00Z\r\n"
        b"\r\n"
        b"Item Id,Message,Type,Values,Offer Snippet\r\n"
        b"SKU-1,Invalid price,Error,abc,Milk;Dairy;;;1.99;;;\r\n"
        b"SKU-2,Invalid price,Error,abc,Milk;Dairy;;;1.99;;;\r\n"
    )


def test_names_constants() -> None:
    assert list(HEADER_NAMES) == HEADER_ROW
    assert list(BODY_NAMES) == BODY_ROW


def test_no_rows_gives_four_rows() -> None:
    rows = _read(build_csv("C", 1, "s", TIME, []))
    assert rows == [HEADER_ROW, ["C", "1", "s", TIME], [], BODY_ROW]


def test_no_bom_utf8_and_crlf() -> None:
    data = build_csv("café 中文 🎉", 1, "s", TIME, [_row("é")])
    assert data.startswith(b"Catalog Name,")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert "café 中文 🎉".encode() in data
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 5
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_rows_in_given_order_not_deduplicated_or_sorted() -> None:
    skus = ["b", "a", "c", "a"]
    rows = _read(build_csv("C", 1, "s", TIME, (_row(s) for s in skus)))
    assert [r[0] for r in rows[4:]] == skus


def test_body_has_one_row_per_rejected_sku_with_unique_ids() -> None:
    skus = [f"SKU-{i}" for i in range(50)]
    rows = _read(build_csv("C", 1, "s", TIME, [_row(s) for s in skus]))
    body = rows[4:]
    assert len(body) == 50
    assert len({r[0] for r in body}) == 50
    assert all(len(r) == 5 and r[2] == "Error" for r in body)


def test_messages_and_values_joined() -> None:
    row = _row(messages=["Bad price", "Blank name"], values=["abc", ""])
    body = _read(build_csv("C", 1, "s", TIME, [row]))[4]
    assert body[1] == "Bad price; Blank name"
    assert body[3] == "abc; "


def test_empty_messages_and_values_give_empty_cells() -> None:
    body = _read(build_csv("C", 1, "s", TIME, [_row(messages=[], values=[])]))[4]
    assert body[1] == "" and body[3] == ""


@pytest.mark.parametrize(
    ("title", "product_type", "price", "expected"),
    [
        ("Milk", "Dairy", "1.99", "Milk;Dairy;;;1.99;;;"),
        (None, None, None, ";;;;;;;"),
        ("Milk", None, None, "Milk;;;;;;;"),
        (None, "Dairy", None, ";Dairy;;;;;;"),
        (None, None, "2.50", ";;;;2.50;;;"),
        ("", "", "", ";;;;;;;"),
    ],
)
def test_offer_snippet(
    title: str | None, product_type: str | None, price: str | None, expected: str
) -> None:
    assert offer_snippet(title, product_type, price) == expected
    assert len(expected.split(";")) == 8
    row = _row(title=title, product_type=product_type, price=price)
    assert _read(build_csv("C", 1, "s", TIME, [row]))[4][4] == expected


# --- formula neutralisation ------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralise_dangerous(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
def test_neutralise_leaves_safe_alone(value: str) -> None:
    assert neutralise(value) == value


@pytest.mark.parametrize("value", DANGEROUS + SAFE)
def test_every_data_cell_round_trips_with_neutralisation(value: str) -> None:
    expect = neutralise(value)
    row = RejectedRow(value, [value], [value], value, None, None)
    rows = _read(build_csv(value, 5, value, value, [row]))
    assert rows[0] == HEADER_ROW
    assert rows[1] == [expect, "5", expect, expect]
    assert rows[2] == []
    assert rows[3] == BODY_ROW
    assert rows[4] == [expect, expect, "Error", expect, neutralise(f"{value};;;;;;;")]
    assert len(rows) == 5


def test_snippet_neutralised_only_by_its_first_character() -> None:
    body = _read(build_csv("C", 1, "s", TIME, [_row(title="=1+1", price="-1")]))[4]
    assert body[4] == "'=1+1;Dairy;;;-1;;;"
    body = _read(build_csv("C", 1, "s", TIME, [_row(title="Milk", price="-1")]))[4]
    assert body[4] == "Milk;Dairy;;;-1;;;"
    body = _read(build_csv("C", 1, "s", TIME, [_row(values=["-1"])]))[4]
    assert body[3] == "'-1"


def test_negative_catalog_id_is_neutralised_like_any_cell() -> None:
    assert _read(build_csv("C", -5, "s", TIME, []))[1][1] == "'-5"


def test_quoting_is_minimal_and_rfc4180() -> None:
    row = _row("plain", messages=['say "x", ok'], values=["a\r\nb"])
    data = build_csv("C", 1, "s", TIME, [row])
    assert b'plain,"say ""x"", ok",Error,"a\r\nb",Milk;Dairy;;;1.99;;;\r\n' in data


def test_newlines_in_catalog_name_round_trip() -> None:
    for name in ("two\nlines", "two\r\nlines", "cr\ronly"):
        rows = _read(build_csv(name, 1, "s", TIME, [_row()]))
        assert rows[1][0] == name
        assert len(rows) == 5


def test_lone_surrogate_becomes_replacement_char() -> None:
    data = build_csv("a\ud800b", 1, "s", TIME, [_row("x\udfff")])
    rows = _read(data)
    assert rows[1][0] == "a\ufffdb"
    assert rows[4][0] == "x\ufffd"


def test_rejected_row_is_frozen() -> None:
    row = _row()
    with pytest.raises(AttributeError):
        row.item_sku = "other"  # type: ignore[misc]


# --- zip -------------------------------------------------------------------------------


def test_zip_has_one_deflated_member_with_the_csv() -> None:
    data = build_csv("C", 1, "s", TIME, [_row("a"), _row("b")])
    archive_bytes = build_zip(data)
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["MerchantCatalogReport.csv"]
        assert infos[0].compress_type == zipfile.ZIP_DEFLATED
        assert infos[0].date_time == (1980, 1, 1, 0, 0, 0)
        assert archive.read(REPORT_MEMBER_NAME) == data
    assert _read_zip(archive_bytes) == _read(data)


def test_zip_is_deterministic() -> None:
    data = build_csv("C", 1, "s", TIME, [_row()])
    assert build_zip(data) == build_zip(data)
    assert build_zip(data) != build_zip(data + b"x")


def test_ten_thousand_rows_round_trip() -> None:
    rows = [_row(f"SKU-{i:05d}", messages=["m1", "m2"], values=[str(i)]) for i in range(10_000)]
    parsed = _read_zip(build_zip(build_csv("C", 1, "s", TIME, rows)))
    assert len(parsed) == 4 + 10_000
    assert parsed[4][0] == "SKU-00000" and parsed[-1][0] == "SKU-09999"


# --- properties ------------------------------------------------------------------------


@settings(deadline=None)
@given(
    name=ANY_TEXT,
    store=ANY_TEXT,
    upload_time=ANY_TEXT,
    sku=ANY_TEXT,
    messages=st.lists(ANY_TEXT, max_size=3),
    values=st.lists(ANY_TEXT, max_size=3),
    title=st.none() | ANY_TEXT,
    product_type=st.none() | ANY_TEXT,
    price=st.none() | ANY_TEXT,
)
def test_csv_round_trip_any_text(
    name: str,
    store: str,
    upload_time: str,
    sku: str,
    messages: list[str],
    values: list[str],
    title: str | None,
    product_type: str | None,
    price: str | None,
) -> None:
    row = RejectedRow(sku, messages, values, title, product_type, price)
    parsed = _read_zip(build_zip(build_csv(name, 42, store, upload_time, [row])))

    def cell(value: str) -> str:
        return neutralise(_no_surrogates(value))

    assert parsed[0] == HEADER_ROW
    assert parsed[1] == [cell(name), "42", cell(store), cell(upload_time)]
    assert parsed[2] == []
    assert parsed[3] == BODY_ROW
    snippet = f"{title or ''};{product_type or ''};;;{price or ''};;;"
    assert parsed[4] == [
        cell(sku),
        cell("; ".join(messages)),
        "Error",
        cell("; ".join(values)),
        cell(snippet),
    ]
    assert len(parsed) == 5
