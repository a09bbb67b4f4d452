"""Fixtures shared by every tier: services on SQLite or PostgreSQL, tenants, signed clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from tests.support import pg
from tests.support.tenants import Tenant, make_tenant

# The machines are shared and noisy: how fast examples are generated, or one example runs, says
# nothing about the rules under test, so neither fails a test (speed is measured in bench/).
hypothesis_settings.register_profile(
    "catalog-ingest", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("catalog-ingest")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[pg.PgDatabases]:
    databases = pg.PgDatabases(pg.base_url())
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind: SQLite in tmp_path, or a new PostgreSQL one."""
    if request.param == "sqlite":
        yield ""
        return
    databases: pg.PgDatabases = request.getfixturevalue("pg_databases")
    url = databases.new()
    yield url
    databases.drop(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    secret_key=b"test-secret-key-0123456789abcdef")


@pytest.fixture
def svc(settings: Settings) -> Iterator[Runtime]:
    services = open_runtime(settings)
    yield services
    services.close()


@pytest.fixture
def tenant(svc: Runtime) -> Tenant:
    return make_tenant(svc, "Retailer One", ["store-01", "store-02"])


@pytest.fixture
def other_tenant(svc: Runtime) -> Tenant:
    return make_tenant(svc, "Retailer Two", ["other-01"])


@pytest.fixture
def client(svc: Runtime) -> Iterator[TestClient]:
    app = create_app(svc.settings, runtime=svc)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client
