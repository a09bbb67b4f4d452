"""SQLite intake never waits for the catalog writer: the inbox, its drain, order and replays."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake, key_usage
from catalog_ingest.engine.worker import drain
from catalog_ingest.errors import IdempotencyMismatch, TransientError
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import admin, uploads
from catalog_ingest.storage.point_reads import PointReaders
from tests.integration.oracle import new_stores

DEADLINE = 30.0


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Runtime]:
    svc = open_runtime(Settings(data_dir=tmp_path / "data",
                                secret_key=b"test-secret-key-0123456789abcdef"))
    yield svc
    svc.close()


def body(sku: str, store: str) -> bytes:
    item = {"item_sku": sku, "store_id": store, "item_name": "Milk",
            "external_product_id": "4006381333931", "external_product_id_type": "EAN"}
    return json.dumps({"catalogItems": [item]}).encode()


def accept(svc: Runtime, retailer_id: str, store: str, sku: str, key: str | None = None,
           payload: bytes | None = None) -> str:
    return intake.accept(svc, retailer_id=retailer_id, kind=UploadKind.UPLOAD,
                         body=payload or body(sku, store), item_count=1, store_ids=[store],
                         idempotency_key=key)


@contextmanager
def writer_held(svc: Runtime) -> Iterator[None]:
    """Hold the catalog writer in another thread, as a processing transaction does."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with svc.db.write():
            held.set()
            release.wait(DEADLINE)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(DEADLINE)
    try:
        yield
    finally:
        release.set()
        thread.join()


@contextmanager
def writer_held_by_another_process(svc: Runtime) -> Iterator[None]:
    """Hold the catalog's SQLite write lock from another process, as a `worker` beside
    `serve` (or `serve`'s own worker child) does while it processes an upload."""
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read(); "
            "c.execute('ROLLBACK')")
    holder = subprocess.Popen([sys.executable, "-c", code, str(svc.db.engine.url.database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == b"held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(DEADLINE)


def finishes(call: Callable[[], str]) -> str:
    """Run `call` in a thread; its result, failing if it does not return before the deadline."""
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert out, "intake waited for the catalog writer"
    return out[0]


def test_an_upload_accepted_while_the_writer_is_busy_is_stored_and_queued_in_order(
        lite: Runtime) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    first = accept(lite, retailer_id, store, "a")
    assert lite.db.inbox is not None
    with writer_held(lite):
        second = finishes(lambda: accept(lite, retailer_id, store, "b"))
        third = finishes(lambda: accept(lite, retailer_id, store, "c"))
        waiting = intake.get_upload(lite, retailer_id, second)  # a status poll sees it at once
        assert (waiting.ingestion_id, waiting.status) == (second, "INQUEUE")
        assert [v["ingestion_id"] for _, v in lite.db.inbox.pending()] == [second, third]
    # The next write of any kind (here: a claim) moves them, in acceptance order.
    assert drain(lite) == ["DONE"] * 3
    assert lite.db.inbox.pending() == []
    with lite.db.read() as conn:
        rows = uploads.list_uploads(conn, retailer_id, 10, None, None)
    assert [u.ingestion_id for u in sorted(rows, key=lambda u: u.seq)] == [first, second, third]
    assert {u.status for u in rows} == {"DONE"}


def test_intake_does_not_wait_for_another_process_holding_the_writer(lite: Runtime) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    assert lite.db.inbox is not None
    with writer_held_by_another_process(lite):
        waiting = finishes(lambda: accept(lite, retailer_id, store, "a"))
        assert [v["ingestion_id"] for _, v in lite.db.inbox.pending()] == [waiting]
    with lite.db.write() as conn:  # the writer waits for other processes again
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
    assert lite.db.inbox.pending() == []
    direct = accept(lite, retailer_id, store, "b")  # writer free: straight into `uploads`
    assert lite.db.inbox.pending() == []
    assert drain(lite) == ["DONE", "DONE"]
    assert intake.get_upload(lite, retailer_id, direct).status == "DONE"


def test_a_full_inbox_refuses_with_a_retry_error_and_loses_nothing(lite: Runtime) -> None:
    """SQLite's "database or disk is full" on the inbox is the "please retry" 500 (as a full
    blob folder is), never the final one; what was accepted before is all processed."""
    retailer_id, (store,) = new_stores(lite, 1)
    assert lite.db.inbox is not None
    conn = lite.db.inbox._conn
    accepted: list[str] = []
    refused = None
    with writer_held(lite):
        # No room beyond the pages the inbox has: it is full once its last page is.
        for n in range(500):
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            try:
                accepted.append(accept(lite, retailer_id, store, f"sku-{n}"))
            except TransientError as exc:
                refused = exc
                break
        assert refused is not None, "the inbox never filled"
        conn.execute("PRAGMA max_page_count = 1073741823")
        accepted.append(finishes(lambda: accept(lite, retailer_id, store, "after")))
    assert [v["ingestion_id"] for _, v in lite.db.inbox.pending()] == accepted
    assert drain(lite) == ["DONE"] * len(accepted)
    with lite.db.read() as reader:
        rows = uploads.list_uploads(reader, retailer_id, 1000, None, None)
    assert sorted(u.ingestion_id for u in rows) == sorted(accepted)


def test_a_write_that_committed_succeeds_when_the_inbox_cannot_forget(
        lite: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forgetting the moved rows comes after the commit: its failure (a full disk) must not
    turn a stored upload into a 500, whose retry would store it twice."""
    retailer_id, (store,) = new_stores(lite, 1)
    assert lite.db.inbox is not None
    with writer_held(lite):
        waiting = finishes(lambda: accept(lite, retailer_id, store, "a"))

    def full(_numbers: list[int]) -> None:
        raise TransientError("intake inbox: database or disk is full")

    monkeypatch.setattr(lite.db.inbox, "forget", full)
    direct = accept(lite, retailer_id, store, "b")  # moves `waiting`, then cannot forget it
    assert [v["ingestion_id"] for _, v in lite.db.inbox.pending()] == [waiting]
    monkeypatch.undo()
    assert drain(lite) == ["DONE", "DONE"]
    assert lite.db.inbox.pending() == []
    with lite.db.read() as reader:
        rows = uploads.list_uploads(reader, retailer_id, 10, None, None)
    assert sorted(u.ingestion_id for u in rows) == sorted([waiting, direct])


def test_idempotency_keys_hold_across_the_inbox_and_the_uploads_table(lite: Runtime) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    stored = accept(lite, retailer_id, store, "a", key="k-1")
    with writer_held(lite):
        waiting = finishes(lambda: accept(lite, retailer_id, store, "b", key="k-2"))
        # A retry of either request gets its first answer, wherever the upload is.
        assert finishes(lambda: accept(lite, retailer_id, store, "a", key="k-1")) == stored
        assert finishes(lambda: accept(lite, retailer_id, store, "b", key="k-2")) == waiting
        with pytest.raises(IdempotencyMismatch):
            accept(lite, retailer_id, store, "other", key="k-2")
    assert accept(lite, retailer_id, store, "b", key="k-2") == waiting  # after the move too
    assert drain(lite) == ["DONE", "DONE"]


def test_a_move_interrupted_by_a_crash_is_finished_once(lite: Runtime, tmp_path: Path) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    with writer_held(lite):
        waiting = finishes(lambda: accept(lite, retailer_id, store, "a"))
    assert lite.db.inbox is not None
    numbers = [n for n, _ in lite.db.inbox.pending()]
    forget = lite.db.inbox.forget
    lite.db.inbox.forget = lambda _numbers: None  # type: ignore[method-assign]  # the "crash"
    with lite.db.write():
        pass
    lite.db.inbox.forget = forget  # type: ignore[method-assign]
    assert [n for n, _ in lite.db.inbox.pending()] == numbers  # in both files now
    lite.close()
    again = open_runtime(lite.settings)  # restarted
    try:
        assert drain(again) == ["DONE"]
        assert again.db.inbox is not None and again.db.inbox.pending() == []
        with again.db.read() as conn:
            rows = uploads.list_uploads(conn, retailer_id, 10, None, None)
        assert [u.ingestion_id for u in rows] == [waiting]
    finally:
        again.close()


def test_processing_does_not_hold_up_intake(lite: Runtime,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload accepted while another is being processed does not wait for it."""
    retailer_id, (store,) = new_stores(lite, 1)
    accept(lite, retailer_id, store, "a")
    from catalog_ingest.engine import processor

    entered, release = threading.Event(), threading.Event()
    original = processor.write_plan

    def held_write_plan(*args: Any, **kwargs: Any) -> None:
        entered.set()
        release.wait(DEADLINE)  # processing's write transaction stays open meanwhile
        original(*args, **kwargs)

    monkeypatch.setattr(processor, "write_plan", held_write_plan)
    worker = threading.Thread(target=drain, args=(lite,))
    worker.start()
    try:
        assert entered.wait(DEADLINE)
        accepted = finishes(lambda: accept(lite, retailer_id, store, "b"))
    finally:
        release.set()
        worker.join(DEADLINE)
    drain(lite)  # whatever the worker thread left
    assert intake.get_upload(lite, retailer_id, accepted).status == "DONE"


def test_a_status_poll_finds_an_upload_in_the_inbox_and_one_moving_out_of_it(
        lite: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    retailer_id, (store,) = new_stores(lite, 1)
    with writer_held(lite):
        waiting = accept(lite, retailer_id, store, "a")
        status = intake.upload_status(lite, retailer_id, waiting, "http://h")
        assert (status.processing_status, status.report_download_link) == ("INQUEUE", "")
    assert lite.db.inbox is not None
    with writer_held(lite):
        moving = accept(lite, retailer_id, store, "b")
    real_holds = lite.db.inbox.holds

    def moved_meanwhile(ingestion_id: str, retailer: str) -> bool:
        """The upload was still in the inbox when `uploads` was read; it moves now."""
        lite.db.flush_inbox()
        return real_holds(ingestion_id, retailer)

    monkeypatch.setattr(lite.db.inbox, "holds", moved_meanwhile)
    found = intake.upload_status(lite, retailer_id, moving, "http://h")
    assert found.processing_status == "INQUEUE"  # read again from `uploads`, never unknown


def test_recording_a_key_use_never_waits_for_a_busy_writer(lite: Runtime) -> None:
    retailer_id, _ = new_stores(lite, 1)
    with lite.db.write() as conn:
        key_id, _secret = admin.create_key(conn, lite.settings.secret_key, retailer_id)
    with writer_held(lite):
        finishes(lambda: str(key_usage.note_use(lite, key_id, None)))
    assert admin.lookup_key(lite.db, lite.settings.secret_key, key_id).last_used_at is None
    key_usage.note_use(lite, key_id, None)  # the next use, with the writer free, records it
    assert admin.lookup_key(lite.db, lite.settings.secret_key, key_id).last_used_at is not None


def test_point_read_connections_close_with_their_threads(lite: Runtime) -> None:
    readers = PointReaders(str(lite.settings.data_dir / "catalog.db"), cache_kib=1024)
    rows: list[object] = []
    threads = [threading.Thread(target=lambda: rows.append(readers.query("SELECT 1", ())))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert rows == [[(1,)]] * 5
    gc.collect()
    assert len(readers._open) == 0  # none left open by the threads that ended
    assert readers.query("SELECT 2", ()) == [(2,)]
    assert len(readers._open) == 1
    readers.close()
