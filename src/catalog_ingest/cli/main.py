"""The `catalog-ingest` entry point: one typer app with the service and retailer commands."""

from __future__ import annotations

import typer

from catalog_ingest.cli import admin, notify_admin, retailer, service

app = typer.Typer(help="catalog-ingest: the JWO-compatible catalog service and retailer toolkit.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(service.serve)
app.command()(service.worker)
app.command()(service.migrate)
notify_admin.register(admin.app)
app.add_typer(admin.app, name="admin")
for _command in (retailer.push, retailer.validate, retailer.status, retailer.report,
                 retailer.history):
    app.command()(_command)


def main() -> None:
    app()
