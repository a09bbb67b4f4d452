"""A database that cannot grow (a full disk) while an upload is processed costs it no attempt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.worker import Worker
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import uploads
from tests.integration.oracle import new_stores
from tests.support.tenants import item

ITEMS = 3000  # many new pages of items and barcodes
DEADLINE = 30.0


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Runtime]:
    svc = open_runtime(Settings(data_dir=tmp_path / "data", max_attempts=2,
                                secret_key=b"test-secret-key-0123456789abcdef"))
    yield svc
    svc.close()


def ean(n: int) -> str:
    body = f"40{n:010d}"
    return body + str(gs1_check_digit(body))


def upload_row(svc: Runtime, ingestion_id: str) -> uploads.Upload:
    with svc.db.read() as conn:
        row = uploads.get_upload(conn, ingestion_id)
    assert row is not None
    return row


def set_max_pages(svc: Runtime, pages: int | None) -> None:
    """Cap the catalog file at its current size (None: lift the cap), on the one writer."""
    with svc.db.write() as conn:
        if pages is None:
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
        conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")


def test_an_upload_that_meets_a_full_database_is_taken_up_again_without_an_attempt(
        lite: Runtime) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    body = json.dumps({"catalogItems": [item(f"SKU-{n}", ean(n), store)
                                        for n in range(ITEMS)]}).encode()
    ingestion_id = intake.accept(lite, retailer_id=retailer_id, kind=UploadKind.UPLOAD,
                                 body=body, item_count=ITEMS, store_ids=[store],
                                 idempotency_key=None)
    set_max_pages(lite, None)  # SQLite answers "database or disk is full" from here on
    worker = Worker(lite)
    for _ in range(3):  # more tries than max_attempts: a counted failure would end FATAL
        claimed, status = worker.step()
        assert (claimed, status, worker.transient) == (True, None, True)
    row = upload_row(lite, ingestion_id)
    # Released, or still held if the release met the full disk too (then released once the
    # database takes writes again): never a counted attempt.
    assert (row.status, row.attempts) in (("INQUEUE", 0), ("INPROGRESS", 0))
    set_max_pages(lite, 1_073_741_823)  # space again
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while upload_row(lite, ingestion_id).status != "DONE" and time.monotonic() < deadline:
            lite.wake.set()
            time.sleep(0.05)
    finally:
        stop.set()
        lite.wake.set()
        thread.join(DEADLINE)
    done = upload_row(lite, ingestion_id)
    assert (done.status, done.attempts) == ("DONE", 0)
    assert done.summary is not None and done.summary["itemsCreated"] == ITEMS


@pytest.mark.parametrize("driver", ["sqlite3", "psycopg"])
def test_the_drivers_own_operational_errors_are_transient(driver: str) -> None:
    """What a DBAPI cursor raises unwrapped by SQLAlchemy (psycopg once it is loaded)."""
    import importlib

    from catalog_ingest.errors import TransientError
    from catalog_ingest.storage.database import translate_errors

    module = importlib.import_module(driver)
    with pytest.raises(TransientError), translate_errors():
        raise module.OperationalError("server closed the connection unexpectedly")
