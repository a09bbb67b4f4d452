"""The command line of the toolkit: defaults from PushOptions, server commands loaded lazily."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from catalog_ingest.cli import main as cli_main
from catalog_ingest.cli import retailer
from catalog_ingest.client.push import NotifyOptions, PushOptions


def _defaults() -> dict[str, object]:
    return {name: param.default.default
            for name, param in inspect.signature(retailer.push).parameters.items()}


def test_push_option_defaults_are_push_options_defaults() -> None:
    shown, declared = _defaults(), PushOptions()
    assert shown["chunk_size"] == declared.chunk_size
    assert shown["max_body_bytes"] == declared.max_body
    assert shown["concurrency"] == declared.concurrency
    assert shown["max_attempts"] == declared.max_attempts
    assert shown["wait"] == declared.wait
    assert shown["notify_timeout"] == NotifyOptions().timeout


def test_toolkit_commands_do_not_import_server_code() -> None:
    probe = ("import sys\n"
             "sys.argv = ['catalog-ingest', 'push', '--help']\n"
             "from catalog_ingest.cli.main import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'starlette',"
             " 'uvicorn', 'alembic') or m.startswith(('catalog_ingest.runtime',"
             " 'catalog_ingest.storage', 'catalog_ingest.engine', 'catalog_ingest.api'))]\n"
             "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["serve", "--port", "1"], ["worker"], ["migrate"],
                                  ["admin", "create-retailer", "x"]])
def test_server_command_without_the_extra_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setattr(cli_main, "missing_server_modules", lambda: list(cli_main.SERVER_MODULES))
    app = cli_main.build_app(server=True)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert (f"catalog-ingest {argv[0]} needs the server install: "
            "pip install 'catalog-ingest[server]'") in result.output


def test_with_the_extra_the_server_commands_are_the_real_ones() -> None:
    result = CliRunner().invoke(cli_main.build_app(server=True), ["serve", "--help"])
    assert result.exit_code == 0
    assert "--no-worker" in result.output
