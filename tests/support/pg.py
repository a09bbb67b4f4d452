"""Per-test PostgreSQL databases: cloned from a migrated template, dropped afterwards."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

ENV = "CATALOG_INGEST_TEST_POSTGRES_URL"
REQUIRE_ENV = "CATALOG_INGEST_REQUIRE_POSTGRES"


def base_url() -> str:
    """The configured server URL, or skip (fail when CI requires PostgreSQL)."""
    url = os.environ.get(ENV)
    if not url:
        reason = f"PostgreSQL tests SKIPPED: set {ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {ENV} is not")
        pytest.skip(reason)
    return url


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url.replace("postgresql+psycopg://", "postgresql://"))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    parsed = make_url(url)
    return parsed.set(database=name).render_as_string(hide_password=False)


class PgDatabases:
    """Creates `ci_<random>` databases from one template migrated once per session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.template: str | None = None
        self.created: list[str] = []

    def _execute(self, sql: str) -> None:
        with psycopg.connect(_admin_conninfo(self.url), autocommit=True) as conn:
            conn.execute(sql)

    def _ensure_template(self) -> str:
        if self.template is None:
            from catalog_ingest.storage.database import Database
            from catalog_ingest.storage.migrate import migrate

            name = f"ci_tmpl_{uuid.uuid4().hex[:10]}"
            self._execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            db = Database(with_database(self.url, name))
            migrate(db)
            db.dispose()
            self.template = name
        return self.template

    def new(self) -> str:
        template = self._ensure_template()
        name = f"ci_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return with_database(self.url, name)

    def new_empty(self) -> str:
        """A database with no schema at all (for migration tests)."""
        name = f"ci_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return with_database(self.url, name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.created)):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
