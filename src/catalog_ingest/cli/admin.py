"""`catalog-ingest admin …`: tenants, stores and credentials, acting on the database directly."""

from __future__ import annotations

from pathlib import Path

import typer

from catalog_ingest.cli.common import DataDir, JsonOut, emit, run_work, services
from catalog_ingest.storage import admin as repo

app = typer.Typer(help="Manage retailers, stores and credentials (works with the service stopped).",
                  no_args_is_help=True)


@app.command("create-retailer")
def create_retailer(name: str, data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """Create a retailer; prints its retailer_id."""
    with services(data_dir) as svc, svc.db.write() as conn:
        retailer_id = run_work(lambda: repo.create_retailer(conn, name))
    emit({"retailer_id": retailer_id, "name": name}, as_json)


@app.command("add-store")
def add_store(retailer_id: str, store_id: str, name: str | None = typer.Option(None, "--name"),
              data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """Add a store; prints store_id, merchant_id and catalog_id."""
    with services(data_dir) as svc, svc.db.write() as conn:
        store = run_work(lambda: repo.add_store(conn, retailer_id, store_id, name))
    emit({"store_id": store.store_id, "merchant_id": store.merchant_id,
          "catalog_id": store.catalog_id, "retailer_id": store.retailer_id}, as_json)


@app.command("create-key")
def create_key(retailer_id: str, data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """Create an access key; the secret is shown this once."""
    with services(data_dir) as svc, svc.db.write() as conn:
        key_id, secret = run_work(lambda: repo.create_key(conn, svc.settings.secret_key,
                                                          retailer_id))
    emit({"access_key_id": key_id, "secret_access_key": secret, "retailer_id": retailer_id},
         as_json)


@app.command("revoke-key")
def revoke_key(access_key_id: str, data_dir: Path | None = DataDir,
               as_json: bool = JsonOut) -> None:
    """Revoke an access key: its requests get the invalid-token 403 from now on."""
    with services(data_dir) as svc, svc.db.write() as conn:
        run_work(lambda: repo.revoke_key(conn, access_key_id))
    emit({"access_key_id": access_key_id, "revoked": True}, as_json)


def _set_enabled(retailer_id: str, enabled: bool, data_dir: Path | None, as_json: bool) -> None:
    with services(data_dir) as svc, svc.db.write() as conn:
        run_work(lambda: repo.set_retailer_enabled(conn, retailer_id, enabled))
    emit({"retailer_id": retailer_id, "enabled": enabled}, as_json)


@app.command("disable-retailer")
def disable_retailer(retailer_id: str, data_dir: Path | None = DataDir,
                     as_json: bool = JsonOut) -> None:
    """Disable a retailer: its keys get the "not authorized" 403."""
    _set_enabled(retailer_id, False, data_dir, as_json)


@app.command("enable-retailer")
def enable_retailer(retailer_id: str, data_dir: Path | None = DataDir,
                    as_json: bool = JsonOut) -> None:
    """Enable a retailer again."""
    _set_enabled(retailer_id, True, data_dir, as_json)


@app.command("create-mmc-token")
def create_mmc_token(retailer_id: str, data_dir: Path | None = DataDir,
                     as_json: bool = JsonOut) -> None:
    """Create a Merchant-Center-style token pair for the status resource."""
    with services(data_dir) as svc, svc.db.write() as conn:
        auth, dev = run_work(lambda: repo.create_mmc_token(conn, retailer_id))
    emit({"authentication_token": auth, "developer_token": dev, "retailer_id": retailer_id},
         as_json)
