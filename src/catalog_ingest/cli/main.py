"""The `catalog-ingest` entry point: the retailer commands, and the service ones when installed.

The retailer toolkit is the base install; the service is the `[server]` extra. The service's
command modules are imported only when one of their commands runs, so `push` & co. never load
server code (and work where its dependencies are absent). A service command run without the
extra says what to install and exits 2.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from catalog_ingest.cli import lambda_package, retailer

HELP = "catalog-ingest: the JWO-compatible catalog service and retailer toolkit."
SERVER_COMMANDS = {"serve": "Run the HTTP service (and, by default, its worker process).",
                   "worker": "Run a worker process only.",
                   "migrate": "Create or upgrade the database schema.",
                   "admin": "Manage retailers, stores, credentials and notifications."}
#: Import names of the `[server]` extra's distributions (all must be importable).
SERVER_MODULES = ("starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "limits",
                  "redis", "jinja2", "argon2", "multipart", "itsdangerous", "asgi_csrf",
                  "prometheus_client")
INSTALL_HINT = "pip install 'catalog-ingest[server]'"
WAIT_MODES = ("poll", "notify")


def missing_server_modules() -> list[str]:
    """The `[server]` extra's modules that cannot be imported here (none: it is installed)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def build_app(*, server: bool) -> typer.Typer:
    """The CLI; with ``server`` the service commands are the real ones (imported now)."""
    app = typer.Typer(help=HELP, no_args_is_help=True, pretty_exceptions_enable=False)
    for command in (retailer.push, retailer.validate, retailer.status, retailer.report,
                    retailer.history):
        app.command()(command)
    app.command("package-lambda")(lambda_package.package_lambda)
    if server and not missing_server_modules():
        _add_server_commands(app)
    else:
        for name, help_text in SERVER_COMMANDS.items():
            hint = escape(f"(needs the server install: {INSTALL_HINT})")  # [server] is no markup
            app.command(name, help=f"{help_text} {hint}",
                        context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True,
                                          "help_option_names": []})(_needs_server(name))
    return app


def _add_server_commands(app: typer.Typer) -> None:
    from catalog_ingest.cli import admin, notify_admin, ops_admin, portal_admin, service

    app.command()(service.serve)
    app.command()(service.worker)
    app.command()(service.migrate)
    notify_admin.register(admin.app)
    portal_admin.register(admin.app)
    ops_admin.register(admin.app)
    app.add_typer(admin.app, name="admin")


def _needs_server(name: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        missing = missing_server_modules()
        typer.echo(f"catalog-ingest {name} needs the server install: {INSTALL_HINT}", err=True)
        if len(missing) < len(SERVER_MODULES):  # a partial install: say what is lacking
            typer.echo(f"(not importable: {', '.join(missing)})", err=True)
        raise typer.Exit(2)

    return command


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


def _command_of(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def __getattr__(name: str) -> Any:
    """``app``: the whole CLI, the service commands included when the extra is installed."""
    if name == "app":
        return build_app(server=True)
    raise AttributeError(name)


def main() -> None:
    argv = normalize_argv(sys.argv[1:])
    command = _command_of(argv)
    # The service's code is loaded for its own commands and the top-level help only.
    app = build_app(server=command is None or command in SERVER_COMMANDS)
    app(args=argv, prog_name="catalog-ingest")
