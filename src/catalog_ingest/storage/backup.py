"""Backup and restore of the embedded deployment: SQLite's online backup plus the blob folder.

`backup` copies the database with SQLite's backup API in one step (a consistent snapshot,
taken while the service keeps writing: in WAL mode the copy blocks no writer), then copies
exactly the blobs that snapshot refers to (payloads and reports; a blob is written and
fsynced before the row that names it commits, so each one is already there) and the server
secret that seals the stored credentials. `manifest.json`, written last, marks a complete
backup. `restore` puts all of it back, into a stopped service's data directory.
PostgreSQL and S3 deployments use their own tools (docs/operations.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from catalog_ingest.errors import ConfigurationError, InvalidInput
from catalog_ingest.settings import Settings

MANIFEST = "manifest.json"
DB_FILE = "catalog.db"
BLOBS = "blobs"
SECRET = Path("secrets") / "server.key"
FORMAT = 1
#: A worker whose heartbeat is this recent means the service is running: no restore then.
LIVE_WINDOW_SECONDS = 30.0


@dataclass(frozen=True)
class Paths:
    database: Path
    blobs: Path
    secret: Path


def embedded_paths(settings: Settings) -> Paths:
    """Where the embedded database and blob folder are; ConfigurationError for other kinds."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ConfigurationError(
            "admin backup/restore handle the embedded SQLite database; for PostgreSQL use "
            "pg_dump or point-in-time recovery (docs/operations.md)")
    blob_url = urlsplit(settings.effective_blob_url)
    if blob_url.scheme != "file":
        raise ConfigurationError(
            "admin backup/restore handle a local blob folder; for S3 use bucket versioning "
            "or replication (docs/operations.md)")
    return Paths(Path(url.database), Path(blob_url.netloc + blob_url.path),
                 settings.data_dir / SECRET)


def _referenced_blobs(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT payload_key, report_key FROM uploads").fetchall()
    return sorted({key for row in rows for key in row if key})


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Write a complete backup into `dest` (a new or empty directory); its manifest."""
    paths = embedded_paths(settings)
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(f"{dest} is not empty: back up into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    started = time.time()
    source = sqlite3.connect(f"file:{paths.database}?mode=ro", uri=True, timeout=60)
    target = sqlite3.connect(dest / DB_FILE)
    try:
        source.backup(target)  # pages=-1: the whole database in one consistent step
    finally:
        target.close()
        source.close()
    missing = []
    keys = _referenced_blobs(dest / DB_FILE)
    for key in keys:
        try:
            _copy(paths.blobs / key, dest / BLOBS / key)
        except FileNotFoundError:
            missing.append(key)  # purged by retention after the snapshot: nothing to restore
    if paths.secret.exists():
        _copy(paths.secret, dest / SECRET)
    manifest = {"format": FORMAT, "created_at": started, "finished_at": time.time(),
                "blobs": len(keys) - len(missing), "blobs_missing": missing,
                "server_secret": paths.secret.exists(), "source": str(paths.database)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def service_running(database: Path, now: float) -> bool:
    if not database.exists():
        return False
    with sqlite3.connect(database, timeout=60) as conn:
        try:
            (count,) = conn.execute("SELECT count(*) FROM workers WHERE heartbeat_at >= ?",
                                    (now - LIVE_WINDOW_SECONDS,)).fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return False
    return bool(count)


def restore(settings: Settings, source: Path, *, force: bool = False) -> dict[str, Any]:
    """Replace the data directory's database, blobs and server secret with a backup's."""
    paths = embedded_paths(settings)
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{source} holds no complete backup (no {MANIFEST})") from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"unsupported backup format {manifest.get('format')!r}")
    if not force and service_running(paths.database, time.time()):
        raise InvalidInput("the service is running (a worker sent a heartbeat in the last "
                           f"{LIVE_WINDOW_SECONDS:.0f} s): stop it first, or use --force")
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    backup_db = sqlite3.connect(f"file:{source / DB_FILE}?mode=ro", uri=True)
    live_db = sqlite3.connect(paths.database, timeout=60)
    try:
        backup_db.backup(live_db)  # replaces every page, WAL included, under SQLite's locks
    finally:
        live_db.close()
        backup_db.close()
    _replace_blobs(source / BLOBS, paths.blobs)
    if (source / SECRET).exists():
        _copy(source / SECRET, paths.secret)
        paths.secret.chmod(0o600)
    return manifest


def _replace_blobs(backed_up: Path, live: Path) -> None:
    """Swap the blob folder for the backup's (old folder removed only once the new is in)."""
    staging = live.with_name(f".{live.name}.restoring")
    shutil.rmtree(staging, ignore_errors=True)
    if backed_up.exists():
        shutil.copytree(backed_up, staging)
    else:
        staging.mkdir(parents=True)
    old = live.with_name(f".{live.name}.replaced")
    shutil.rmtree(old, ignore_errors=True)
    if live.exists():
        live.rename(old)
    staging.rename(live)
    shutil.rmtree(old, ignore_errors=True)
