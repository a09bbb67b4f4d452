"""A file whose columns cannot make items is said so once, with a mapping to start from."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from catalog_ingest.cli.main import app
from catalog_ingest.domain.items import KNOWN_FIELDS
from catalog_ingest.files.columns import (
    MISSING_COLUMNS,
    NO_MATCHING_COLUMNS,
    check_columns,
    mapping_snippet,
    suggest_mapping,
)
from catalog_ingest.files.mapping import IDENTITY, parse_mapping

NEW_USER_CSV = ("sku,barcode,name,store,price\nA-1,4006381333931,Pen,s1,1.99\n"
                "A-2,4006381333948,Ink,s1,2.99\nA-3,4006381333955,Cap,s2,0.99\n"
                "A-4,4006381333962,Nib,s2,3.49\n")


def test_the_guess_maps_the_usual_names() -> None:
    columns = ["SKU", "Barcode", "Product Name", "Store", "Price", "Colour"]
    assert suggest_mapping(columns) == {
        "item_sku": "SKU", "external_product_id": "Barcode", "item_name": "Product Name",
        "store_id": "Store", "standard_price": "Price"}
    snippet = mapping_snippet(columns)
    assert '# not mapped: "Colour"' in snippet
    table = tomllib.loads(snippet)["columns"]
    assert table["external_product_id"] == "Barcode"
    parse_mapping({"columns": table})  # the snippet is a valid mapping as it is


def test_no_matching_column_is_one_problem_with_the_columns_and_a_snippet() -> None:
    issue = check_columns(["sku", "barcode", "name", "store", "price"])
    assert issue is not None and issue.code == NO_MATCHING_COLUMNS and issue.field is None
    assert "its columns: sku, barcode, name, store, price" in issue.message
    snippet = issue.message.split("for example:\n", 1)[1]
    assert tomllib.loads(snippet)["columns"] == {
        "item_sku": "sku", "external_product_id": "barcode", "item_name": "name",
        "store_id": "store", "standard_price": "price"}


def test_missing_required_columns_are_named_and_store_can_be_a_constant() -> None:
    columns = ["item_sku", "external_product_id", "item_name"]
    issue = check_columns(columns)
    assert issue is not None and issue.code == MISSING_COLUMNS
    assert "required field(s) store_id" in issue.message and "--store" in issue.message
    assert check_columns(columns, IDENTITY.with_store("s1")) is None
    assert check_columns(columns, tabular=False) is None  # JSON records may differ


def test_a_mapping_naming_absent_columns_says_which() -> None:
    mapping = parse_mapping({"columns": {"item_sku": "Article", "item_name": "Name",
                                         "external_product_id": "EAN", "store_id": "Shop"}})
    issue = check_columns(["Article", "Name", "Shop"], mapping)
    assert issue is not None and issue.code == MISSING_COLUMNS
    assert "'EAN' (for external_product_id)" in issue.message
    assert check_columns(["Article", "Name", "Shop", "EAN"], mapping) is None


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_says_it_once_instead_of_sixteen_missing_fields(tmp_path: Path,
                                                                 runner: CliRunner) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(NEW_USER_CSV)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert len(out["problems"]) == 1
    problem = out["problems"][0]
    assert "MISSING_FIELD" not in result.stdout
    assert "no column of the file is an API field" in problem["message"]
    assert 'external_product_id = "barcode"' in problem["message"]


def test_validate_with_the_suggested_mapping_passes(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(NEW_USER_CSV)
    issue = check_columns(["sku", "barcode", "name", "store", "price"])
    assert issue is not None
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(issue.message.split("for example:\n", 1)[1])
    result = runner.invoke(app, ["validate", str(path), "--mapping", str(mapping), "--json"])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["rows"] == 4


def test_json_records_without_any_api_field_are_said_so_once(tmp_path: Path,
                                                             runner: CliRunner) -> None:
    path = tmp_path / "catalog.jsonl"
    path.write_text('{"sku": "A", "ean": "4006381333931"}\n' * 3)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    problems = json.loads(result.stdout)["problems"]
    assert result.exit_code == 1 and len(problems) == 1
    assert "its columns: sku, ean" in problems[0]["message"]


@given(st.lists(st.text(min_size=1).filter(lambda c: c not in KNOWN_FIELDS), min_size=1,
                max_size=8, unique=True))
@example(["Größe 😀", 'a "quoted"\\ name', "tab\there", "del\x7f"])  # beyond U+FFFF; escapes
def test_the_snippet_is_always_a_valid_mapping(columns: list[str]) -> None:
    issue = check_columns(columns)
    assert issue is not None and issue.code == NO_MATCHING_COLUMNS
    table = tomllib.loads(issue.message.split("for example:\n", 1)[1])
    parse_mapping(table)
    assert set(table["columns"].values()) <= set(columns)
