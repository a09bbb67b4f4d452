"""What every command shares: settings from options and environment, output, exit codes.

Imported by the retailer commands too, so the service side (runtime, settings) is imported
only inside the functions that need it: the toolkit install has no server dependencies.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from catalog_ingest.errors import CatalogIngestError

if TYPE_CHECKING:
    from catalog_ingest.runtime import Runtime
    from catalog_ingest.settings import Settings

T = TypeVar("T")

DataDir = typer.Option(None, "--data-dir", help="Data directory (CATALOG_INGEST_DATA_DIR).")
JsonOut = typer.Option(False, "--json", help="Print one JSON object.")


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    from catalog_ingest import settings as settings_mod

    return settings_mod.from_env(data_dir=data_dir, **overrides)


@contextmanager
def services(data_dir: Path | None, **overrides: Any) -> Iterator[Runtime]:
    from catalog_ingest.runtime import open_runtime

    svc = open_runtime(load_settings(data_dir, **overrides))
    try:
        yield svc
    finally:
        svc.close()


def emit(record: dict[str, Any], as_json: bool) -> None:
    """A record as one JSON object, or as `name: value` lines for a person."""
    if as_json:
        typer.echo(json.dumps(record))
        return
    for key, value in record.items():
        typer.echo(f"{key}: {value}")


def run_work(action: Callable[[], T]) -> T:
    """Run `action`; a CatalogIngestError is a failure of the work: message on stderr, exit 1."""
    try:
        return action()
    except CatalogIngestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def stdin_or_prompt(prompt: str) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))
