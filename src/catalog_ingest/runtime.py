"""The handles one process shares: settings, database, blob store, worker wake-up, blob I/O pool."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from catalog_ingest.blobs.store import BlobStore, open_blob_store
from catalog_ingest.observability.metrics import Metrics
from catalog_ingest.settings import Settings
from catalog_ingest.storage.database import Database
from catalog_ingest.storage.migrate import migrate


@dataclass
class Runtime:
    settings: Settings
    db: Database
    blobs: BlobStore
    #: Set by intake after a commit so in-process workers start at once instead of polling.
    wake: threading.Event = field(default_factory=threading.Event)
    #: Blob writes that overlap with CPU work (fsync releases the GIL).
    io: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="blob-io")
    )
    #: This process's Prometheus counters and histograms (observability/metrics.py).
    metrics: Metrics = field(default_factory=Metrics)

    def close(self) -> None:
        self.io.shutdown(wait=True)
        self.db.dispose()


def open_runtime(settings: Settings, *, run_migrations: bool = True) -> Runtime:
    """Open (and by default migrate) everything `settings` names."""
    settings = settings.with_secret()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    if run_migrations:
        migrate(db)
    return Runtime(settings, db, open_blob_store(settings.effective_blob_url))
