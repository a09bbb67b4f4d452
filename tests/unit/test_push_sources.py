"""Reading push sources: CSV dialects and encodings, JSON and JSON Lines, with file and line."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from catalog_ingest.files import jsonfiles
from catalog_ingest.files.sources import SourceError, SourceOptions, inspect, read_rows

NAME = "Cr\u00e8me br\u00fbl\u00e9e \u2013 5\u20ac"  # an en dash and a euro sign: cp1252 has both


def rows(path: Path, **options: str) -> list[tuple[int, object, str | None]]:
    info = inspect(path, SourceOptions(**options))  # type: ignore[arg-type]
    return [(r.line, r.data, r.error) for r in read_rows(info, SourceOptions(**options))]  # type: ignore[arg-type]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected_from_the_header(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(delimiter.join(["sku", "name", "price"]) + "\n"
                    + delimiter.join(["A-1", '"Pen, blue; fine"', "1.99"]) + "\n")
    assert rows(path) == [(2, {"sku": "A-1", "name": "Pen, blue; fine", "price": "1.99"}, None)]


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("cp1252", b""),
])
def test_csv_encoding_and_bom_are_detected(tmp_path: Path, encoding: str, bom: bytes) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(bom + f"sku;name\nA-1;{NAME}\n".encode(encoding))
    info = inspect(path)
    assert info.format == "csv"
    assert rows(path) == [(2, {"sku": "A-1", "name": NAME}, None)]


def test_latin1_is_used_when_cp1252_cannot_decode(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"sku,name\nA-1,caf\xe9\x81\n")
    assert inspect(path).encoding == "latin-1"
    assert rows(path)[0][1] == {"sku": "A-1", "name": "café\x81"}


def test_csv_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('sku,name\r\nA-1,"two\r\nlines"\r\n\r\nA-2,x\r\n,\r\nA-3,"a ""quote"""\r\n')
    assert rows(path) == [
        (2, {"sku": "A-1", "name": "two\r\nlines"}, None),
        (5, {"sku": "A-2", "name": "x"}, None),
        (7, {"sku": "A-3", "name": 'a "quote"'}, None),
    ]


def test_csv_short_rows_lack_columns_and_long_rows_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("sku,name,price\nA-1,Pen\nA-2,Pen,1,extra\nA-3,Pen,1,\n")
    found = rows(path)
    assert found[0] == (2, {"sku": "A-1", "name": "Pen"}, None)
    assert found[1][0] == 3 and "4 cells" in (found[1][2] or "")
    assert found[2] == (4, {"sku": "A-3", "name": "Pen", "price": "1"}, None)


@pytest.mark.parametrize(("header", "message"), [
    ("sku,name,sku", "names column 'sku' twice"), ("sku,,name", "empty column name"),
])
def test_bad_csv_header_is_a_source_error(tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(header + "\nA,B,C\n")
    with pytest.raises(SourceError, match=message) as caught:
        rows(path)
    assert caught.value.line == 1


def test_explicit_delimiter_and_encoding_win(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes("a,b|c\n1,2|3\n".encode("utf-16"))
    assert rows(path, delimiter="|", encoding="utf-16", format="csv") == [
        (2, {"a,b": "1,2", "c": "3"}, None)]


def test_json_array_items_have_their_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[\n  {"item_sku": "A-1"},\n  {"item_sku":\n   "A-2"}, 7, "x"\n]\n')
    assert rows(path) == [(2, {"item_sku": "A-1"}, None), (3, {"item_sku": "A-2"}, None),
                          (4, 7, None), (4, "x", None)]


def test_json_object_with_catalog_items(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"source": {"catalogItems": 1},\n "catalogItems": [\n{"item_sku": "A"}\n]}')
    assert rows(path) == [(3, {"item_sku": "A"}, None)]


@pytest.mark.parametrize(("text", "message", "line"), [
    ('{"items": []}', "no \"catalogItems\" array", None),
    ('{"catalogItems": {}}', "catalogItems to be an array", 1),
    ('[\n{"a": 1},\n{"a": 2', "invalid JSON", 3),
    ('[{"a": 1}\n{"a": 2}]', "expected ',' or ']'", 2),
    ('[]\n[]', "unexpected data", 2),
    ("", "a JSON array or an object", 1),
])
def test_broken_json_is_a_source_error(tmp_path: Path, text: str, message: str,
                                       line: int | None) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(SourceError, match=message) as caught:
        rows(path, format="json")
    assert caught.value.line == line


def test_json_is_streamed_across_block_boundaries(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonfiles, "_BLOCK", 7)
    items = [{"item_sku": f"A-{n}", "price": 1234567.5 + n, "name": "x" * n} for n in range(40)]
    path = tmp_path / "c.json"
    path.write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]")
    found = rows(path)
    assert [data for _, data, _ in found] == items
    assert [line for line, _, _ in found] == list(range(2, 42))


def test_json_lines_keep_going_after_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + b'{"item_sku": "A"}\n\n{"item_sku": \n[1]\n')
    found = rows(path)
    assert found[0] == (1, {"item_sku": "A"}, None)
    assert found[1][0] == 3 and (found[1][2] or "").startswith("invalid JSON")
    assert found[2] == (4, [1], None)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("a.csv", '{"looks": "like json"}', "csv"),
    ("a.data", "sku,name\n", "csv"),
    ("a.json", '{"item_sku": "A"}\n{"item_sku": "B"}\n', "jsonl"),
    ("a.txt", '{"catalogItems": [{"item_sku": "A"}]}\n', "json"),
    ("a.json", '{\n  "catalogItems": []\n}\n', "json"),
    ("a", ' [ {"item_sku": "A"} ]', "json"),
])
def test_format_is_detected(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert inspect(path).format == expected


def test_inspect_hashes_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"sku\nA\n")
    first = inspect(path)
    path.write_bytes(b"sku\nB\n")
    assert (first.size, inspect(path).size) == (6, 6)
    assert first.sha256 != inspect(path).sha256


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        inspect(tmp_path / "nope.csv")
