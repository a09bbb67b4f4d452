"""`make run`'s demo tenant includes a portal user whose printed credentials log in."""

from __future__ import annotations

import re

import pytest

from catalog_ingest.cli.demo import provision_demo
from catalog_ingest.engine.accounts import Accounts
from catalog_ingest.runtime import Runtime


def test_demo_prints_a_portal_login_that_works(svc: Runtime,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    demo = provision_demo(svc, "http://127.0.0.1:8080")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8080/portal/" in out
    email = re.search(r"e-mail:\s+(\S+)", out)
    password = re.search(r"password:\s+(\S+)", out)
    assert email is not None and password is not None
    assert email.group(1) == demo["portal_email"]
    outcome = Accounts(svc).login(email.group(1), password.group(1), "127.0.0.1")
    assert outcome.user is not None and outcome.user.role.value == "admin"
    assert outcome.user.retailer_id == demo["retailer_id"]
    again = provision_demo(svc, "http://127.0.0.1:8080")  # a restart reuses the same tenant
    assert again["portal_password"] == password.group(1)


def test_the_printed_push_line_names_a_file_the_repository_ships(
        svc: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    provision_demo(svc, "http://127.0.0.1:8080")
    out = capsys.readouterr().out
    line = re.search(r"(\S+) push (\S+) --endpoint http://127\.0\.0\.1:8080", out)
    assert line is not None, out
    assert (Path(__file__).parents[2] / line.group(2)).is_file()
