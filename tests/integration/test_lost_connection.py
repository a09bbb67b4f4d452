"""A database connection lost inside a write transaction is the retry-recommended failure."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from catalog_ingest.errors import TransientError
from catalog_ingest.runtime import Runtime


@pytest.mark.postgres
def test_a_connection_killed_mid_transaction_is_a_transient_error(svc: Runtime) -> None:
    if svc.db.is_sqlite:
        pytest.skip("a server backend is terminated: the SQLite variant has none")
    with pytest.raises(TransientError), svc.db.write() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with svc.db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.execute(text("SELECT 1"))  # the server is gone from under this transaction
    with svc.db.write() as conn:  # and the next transaction gets a fresh connection
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
