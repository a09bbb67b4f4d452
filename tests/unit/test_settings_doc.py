"""Settings are declared once: the documented table and `from_env` both come from `Settings`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from catalog_ingest import settings as s
from catalog_ingest.errors import ConfigurationError

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_the_declared_table() -> None:
    text = DOC.read_text()
    begin = text.index("-->", text.index("<!-- settings:begin")) + len("-->\n")
    end = text.index("<!-- settings:end -->")
    assert text[begin:end] == s.markdown_table()


def test_every_setting_has_a_meaning_and_a_parser() -> None:
    for f in dataclasses.fields(s.Settings):
        assert f.metadata["meaning"], f.name
        assert callable(f.metadata["parse"]), f.name


def test_from_env_reads_each_configurable_setting() -> None:
    env = {"CATALOG_INGEST_MAX_BODY_BYTES": "123", "CATALOG_INGEST_LEASE_SECONDS": "2.5",
           "CATALOG_INGEST_SECRET_KEY": "00" * 16, "CATALOG_INGEST_REGION": "",
           "CATALOG_INGEST_DATA_DIR": "/tmp/x"}
    got = s.from_env(env, report_link_ttl=7)
    assert got.max_body_bytes == 123 and got.lease_seconds == 2.5
    assert got.secret_key == bytes(16) and got.region == "us-east-1"
    assert got.data_dir == Path("/tmp/x") and got.report_link_ttl == 7


@pytest.mark.parametrize(("name", "raw"), [("MAX_BODY_BYTES", "ten"), ("NOTIFY_TIMEOUT", "-1"),
                                           ("NOTIFY_TIMEOUT", "inf"), ("SECRET_KEY", "zz")])
def test_bad_values_are_configuration_errors_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CATALOG_INGEST_" + name):
        s.from_env({"CATALOG_INGEST_" + name: raw})


def test_the_secret_is_not_in_the_repr() -> None:
    assert "ab" * 16 not in repr(s.Settings(secret_key=bytes.fromhex("ab" * 16)))
