"""Bring a database's schema to the newest Alembic revision, once, whoever else is starting."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from catalog_ingest.storage.database import Database

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_ID = 727_001  # any constant: serialises concurrent migrators on one PostgreSQL


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade to `revision`; concurrent callers (serve + workers starting) wait for each other."""
    cfg = alembic_config()
    if db.is_sqlite:
        with _sqlite_file_lock(db), db.write_engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return
    with db.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@contextmanager
def _sqlite_file_lock(db: Database) -> Iterator[None]:
    """An flock beside the SQLite file, so two processes never migrate at the same time."""
    database = db.engine.url.database
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
