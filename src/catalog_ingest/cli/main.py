"""The `catalog-ingest` entry point: one typer app with the service and retailer commands."""

from __future__ import annotations

import sys

import typer

from catalog_ingest.cli import admin, notify_admin, portal_admin, retailer, service

app = typer.Typer(help="catalog-ingest: the JWO-compatible catalog service and retailer toolkit.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(service.serve)
app.command()(service.worker)
app.command()(service.migrate)
notify_admin.register(admin.app)
portal_admin.register(admin.app)
app.add_typer(admin.app, name="admin")
for _command in (retailer.push, retailer.validate, retailer.status, retailer.report,
                 retailer.history):
    app.command()(_command)


WAIT_MODES = ("poll", "notify")


def normalize_argv(argv: list[str]) -> list[str]:
    """`push --wait notify` (the issue's spelling) → `--wait-mode notify`; a bare `--wait`
    stays the plain flag of the spec's `--wait / --no-wait`."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--wait" and i + 1 < len(argv) and argv[i + 1] in WAIT_MODES:
            out += ["--wait-mode", argv[i + 1]]
            i += 2
            continue
        if arg.startswith("--wait=") and arg.split("=", 1)[1] in WAIT_MODES:
            arg = "--wait-mode=" + arg.split("=", 1)[1]
        out.append(arg)
        i += 1
    return out


def main() -> None:
    app(args=normalize_argv(sys.argv[1:]), prog_name="catalog-ingest")
