"""`catalog-ingest admin create-user`: portal accounts (password from stdin or a prompt)."""

from __future__ import annotations

from pathlib import Path

import typer

from catalog_ingest.cli.common import DataDir, JsonOut, emit, run_work, services, stdin_or_prompt
from catalog_ingest.engine import accounts

ROLE_HELP = "admin (everything, incl. integration health), editor (upload, edit, archive, " \
    "cancel) or viewer (read only)."


def create_user(
    retailer_id: str,
    email: str,
    role: str = typer.Option(accounts.Role.EDITOR.value, "--role", help=ROLE_HELP),
    data_dir: Path | None = DataDir,
    as_json: bool = JsonOut,
) -> None:
    """Create a portal user of RETAILER_ID; the password is read from stdin or prompted for."""
    password = stdin_or_prompt("Password")
    with services(data_dir) as svc:
        user = run_work(lambda: accounts.create_user(svc, retailer_id, email, password, role))
    emit({"user_id": user.user_id, "retailer_id": user.retailer_id, "email": user.email,
          "role": user.role.value}, as_json)


def register(app: typer.Typer) -> None:
    """Add the portal account commands to the `admin` app."""
    app.command("create-user")(create_user)
