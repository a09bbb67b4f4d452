"""`catalog-ingest admin backup / restore / purge`: operating the embedded deployment."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from catalog_ingest.cli.common import DataDir, JsonOut, emit, load_settings, run_work, services
from catalog_ingest.storage import backup as backups


def backup(directory: Path = typer.Argument(..., help="A new or empty directory."),
           data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """A consistent copy of the embedded database and blob folder, taken while it runs."""
    settings = load_settings(data_dir)
    manifest = run_work(lambda: backups.backup(settings, directory))
    emit({"backup": str(directory), "blobs": manifest["blobs"],
          "blobs_missing": len(manifest["blobs_missing"]),
          "server_secret": manifest["server_secret"]}, as_json)


def restore(directory: Path = typer.Argument(..., help="A directory written by admin backup."),
            force: bool = typer.Option(False, "--force",
                                       help="Restore even if a worker seems to be running."),
            data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """Bring a backup back into the data directory (stop the service first)."""
    settings = load_settings(data_dir)
    manifest = run_work(lambda: backups.restore(settings, directory, force=force))
    emit({"restored": str(directory), "taken_at": manifest["created_at"],
          "blobs": manifest["blobs"]}, as_json)


def purge(data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """Run retention now (what idle workers do on their own), until nothing is left."""
    from catalog_ingest.engine.retention import purge as run_purge

    with services(data_dir) as svc:
        done = run_work(lambda: run_purge(svc, time.time()))
    emit({"uploads": done.uploads, "payloads": done.payloads,
          "notifications": done.notifications, "portal_batches": done.batches}, as_json)


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `admin` app."""
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("purge")(purge)
