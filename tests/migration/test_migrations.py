"""Migrations: head creates exactly the schema tables.py declares; down and up again work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from catalog_ingest.storage.database import Database
from catalog_ingest.storage.migrate import alembic_config, migrate
from catalog_ingest.storage.tables import metadata
from tests.support import pg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no schema at all) of each kind."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.db'}")
        yield db
        db.dispose()
        return
    databases = pg.PgDatabases(pg.base_url())
    url = databases.new_empty()
    db = Database(url)
    yield db
    db.dispose()
    databases.drop_all()


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_head_matches_declared_tables(empty_db: Database) -> None:
    migrate(empty_db)
    assert _diff(empty_db) == []


def test_migrate_twice_is_a_no_op(empty_db: Database) -> None:
    migrate(empty_db)
    migrate(empty_db)
    assert "uploads" in inspect(empty_db.engine).get_table_names()


def test_downgrade_to_base_and_up_again(empty_db: Database) -> None:
    migrate(empty_db)
    cfg = alembic_config()
    with empty_db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    tables = set(inspect(empty_db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate(empty_db)
    assert _diff(empty_db) == []
