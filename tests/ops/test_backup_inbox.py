"""Backup and restore carry the SQLite intake inbox: waiting uploads kept, later ones dropped."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path

from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import backup
from catalog_ingest.storage.inbox import inbox_path


def _waiting(svc_db_path: Path) -> list[str]:
    with sqlite3.connect(inbox_path(str(svc_db_path))) as conn:
        return [row[0] for row in conn.execute("SELECT ingestion_id FROM inbox ORDER BY n")]


def _accept_into_inbox(svc: Runtime, payload: bytes) -> str:
    ingestion_id = str(uuid.uuid4())
    key = f"payloads/{ingestion_id}.json"
    svc.blobs.put(key, payload)
    assert svc.db.inbox is not None
    svc.db.inbox.put({
        "ingestion_id": ingestion_id, "retailer_id": "r1", "kind": "UPLOAD", "item_count": 1,
        "store_ids": json.dumps(["s1"]), "payload_key": key, "idempotency_key": None,
        "request_hash": "h", "submitted_at": time.time(), "source": "api", "batch_id": None})
    return ingestion_id


def test_waiting_uploads_are_backed_up_and_later_ones_do_not_come_back(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    svc = open_runtime(settings)
    try:
        database = backup.embedded_paths(svc.settings).database
        before = _accept_into_inbox(svc, b'{"catalogItems": []}')
        manifest = backup.backup(svc.settings, tmp_path / "bk")
        assert (tmp_path / "bk" / backup.INBOX_FILE).exists()
        assert manifest["blobs"] == 1  # the waiting upload's payload
        after = _accept_into_inbox(svc, b'{"catalogItems": [1]}')
        assert _waiting(database) == [before, after]
    finally:
        svc.close()
    backup.restore(settings.with_secret(), tmp_path / "bk", force=True)
    assert _waiting(database) == [before]
    assert (tmp_path / "data" / "blobs" / "payloads" / f"{before}.json").exists()
    assert not (tmp_path / "data" / "blobs" / "payloads" / f"{after}.json").exists()


def test_a_clean_stop_moves_waiting_uploads_into_the_database(tmp_path: Path) -> None:
    from catalog_ingest.storage import uploads

    svc = open_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        waiting = _accept_into_inbox(svc, b'{"catalogItems": []}')
        svc.db.flush_inbox()
        database = backup.embedded_paths(svc.settings).database
        assert _waiting(database) == []
        with svc.db.read() as conn:
            found = uploads.get_upload(conn, waiting)
        assert found is not None and found.status == "INQUEUE"
    finally:
        svc.close()
