"""The tracking database's schema, and the script from each older version to the current one.

Version 1 staged a push's outcomes one row per item (``staged_hashes``); version 2 stages one
row per report (``staged_chunks``) and still merges the rows a version 1 push left.
"""

SCHEMA_VERSION = 2
SCHEMA_V1 = """
CREATE TABLE pushes (
    push_id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, source_key TEXT NOT NULL,
    sources TEXT NOT NULL, options TEXT NOT NULL, status TEXT NOT NULL,
    started_at REAL NOT NULL, finished_at REAL, pid INTEGER, results_dir TEXT,
    rows_read INTEGER NOT NULL DEFAULT 0, rows_invalid INTEGER NOT NULL DEFAULT 0,
    summary TEXT);
CREATE INDEX pushes_source ON pushes (endpoint, source_key, started_at);
CREATE TABLE chunks (
    push_id TEXT NOT NULL REFERENCES pushes, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    store_id TEXT, fingerprint TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    item_count INTEGER NOT NULL, first_row TEXT, last_row TEXT, status TEXT NOT NULL,
    ingestion_id TEXT, submitted_at REAL, completed_at REAL, report_path TEXT,
    summary TEXT, error TEXT, PRIMARY KEY (push_id, seq));
CREATE INDEX chunks_ingestion ON chunks (ingestion_id);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, push_id TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL,
    outcome TEXT NOT NULL, http_status INTEGER, request_id TEXT, message TEXT);
CREATE INDEX attempts_chunk ON attempts (push_id, seq);
CREATE TABLE item_hashes (
    endpoint TEXT NOT NULL, source_key TEXT NOT NULL, store_id TEXT NOT NULL,
    item_sku TEXT NOT NULL, content_hash BLOB NOT NULL, push_id TEXT NOT NULL,
    PRIMARY KEY (endpoint, source_key, store_id, item_sku)) WITHOUT ROWID;
CREATE TABLE staged_hashes (
    push_id TEXT NOT NULL, store_id TEXT NOT NULL, item_sku TEXT NOT NULL,
    content_hash BLOB, PRIMARY KEY (push_id, store_id, item_sku)) WITHOUT ROWID;
"""
# v2: a push stages one row per report (its outcomes packed), not a row per item; rows that a
# v1 push staged in staged_hashes are still merged.
TO_V2 = """
CREATE TABLE staged_chunks (id INTEGER PRIMARY KEY, push_id TEXT NOT NULL,
    outcomes BLOB NOT NULL);
CREATE INDEX staged_chunks_push ON staged_chunks (push_id, id);
"""
#: The script from each schema version to the current one.
SCRIPTS = {0: SCHEMA_V1 + TO_V2, 1: TO_V2}
