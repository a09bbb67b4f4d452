"""docs/operations.md documents every `admin` command and each of its options (not only --help)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from catalog_ingest.cli.main import app

DOC = Path(__file__).parents[2] / "docs" / "operations.md"
COMMON = {"--data-dir", "--json", "--help"}  # documented once, for every command


def sections() -> dict[str, str]:
    text = DOC.read_text()
    found = {}
    for match in re.finditer(r"^### `admin ([a-z-]+)[^`]*`\n(.*?)(?=^##|\Z)", text, re.M | re.S):
        found[match.group(1)] = match.group(2)
    return found


def test_every_admin_command_and_option_is_documented() -> None:
    command: Any = typer.main.get_command(app)
    admin: Any = command.commands["admin"]
    documented = sections()
    missing = []
    for name, sub in admin.commands.items():
        if name not in documented:
            missing.append(f"admin {name}")
            continue
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in COMMON and opt not in documented[name]:
                    missing.append(f"admin {name} {opt}")
    assert not missing, f"not in docs/operations.md: {missing}"
    assert all(opt in DOC.read_text() for opt in COMMON - {"--help"})
