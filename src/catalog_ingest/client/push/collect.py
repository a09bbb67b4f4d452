"""Collecting what became of accepted uploads: statuses, reports, counts, delta hashes.

The waiter (polling or notifications) hands every upload that ended to ``complete``: the
report is downloaded (a fresh link is asked for if one expired), saved in the results
directory, counted, and the accepted items' content hashes are staged for --delta.
"""

from __future__ import annotations

import asyncio
import threading
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalog_ingest.client import AsyncCatalogClient, ReportLinkExpired, RetryPolicy
from catalog_ingest.client.push.options import PushObserver
from catalog_ingest.client.push.outcome import Outcome
from catalog_ingest.client.push.results import ResultsDir
from catalog_ingest.client.push.scratch import Scratch
from catalog_ingest.client.push.tracking import Tracking
from catalog_ingest.client.push.waiting import Tracked


class Collector:
    """The waiter's Completer for one push run."""

    def __init__(self, push_id: str, names: Sequence[str], client: AsyncCatalogClient,
                 tracking: Tracking, results: ResultsDir, outcome: Outcome,
                 observer: PushObserver, policy: RetryPolicy, scratch: Scratch) -> None:
        self.push_id, self.names = push_id, list(names)
        # Downloads and status calls are retried by the SDK, by the push's policy.
        self.client = client.with_retry(policy)
        self.tracking, self.results = tracking, results
        self.outcome, self.observer = outcome, observer
        self.scratch = scratch
        #: Guards ``outcome``: reports are counted in threads, problems in the planner's.
        self.lock = threading.Lock()
        #: For archive chunks: the stores each SKU was known in (their hashes are dropped).
        self.archive_pairs: dict[str, list[str]] = {}
        self._statuses: dict[int, str] = {}

    def progress(self, tracked: Tracked, status: str) -> None:
        if self._statuses.get(tracked.chunk.seq) != status:
            self._statuses[tracked.chunk.seq] = status
            self.tracking.update_chunk(self.push_id, tracked.chunk.seq, status=status)

    async def lost(self, tracked: Tracked, message: str) -> None:
        # Forget the id: the service does not know it (its data was reset?), so a resumed
        # push sends the chunk again.
        self.tracking.update_chunk(self.push_id, tracked.chunk.seq, status="FAILED",
                                   ingestion_id=None, error=f"unknown to the service: {message}")
        with self.lock:
            self.outcome.add_failed(tracked.chunk, f"unknown to the service: {message}")
        self.observer.chunk_failed(tracked.chunk, message)

    async def complete(self, tracked: Tracked, status: str, link: str | None) -> None:
        self._statuses.pop(tracked.chunk.seq, None)
        if status == "CANCELLED" or not link:
            self.cancelled(tracked, status)
            return
        report = await self._download(tracked.ingestion_id, link)
        path = self.results.report_path(tracked.chunk.seq, tracked.chunk.store_id,
                                        tracked.ingestion_id)
        await asyncio.to_thread(self.absorb, tracked, report, path)
        self.tracking.update_chunk(self.push_id, tracked.chunk.seq,
                                   status=report.get("processingStatus", status),
                                   completed_at=time.time(), report_path=str(path),
                                   summary=report.get("summary"))
        self.observer.chunk_settled(tracked.chunk, status, report.get("summary"))

    def cancelled(self, tracked: Tracked, status: str) -> None:
        self.tracking.update_chunk(self.push_id, tracked.chunk.seq, status=status,
                                   completed_at=time.time())
        with self.lock:
            self.outcome.add_failed(tracked.chunk, f"the upload ended {status}")
        self.observer.chunk_settled(tracked.chunk, status, None)

    async def _download(self, ingestion_id: str, link: str) -> dict[str, Any]:
        """The report; an expired link is replaced by a fresh one from the status call."""
        for _ in range(3):
            try:
                return await self.client.download_report(link)
            except ReportLinkExpired:
                status = await self.client.get_status(ingestion_id)
                link = status.report_url or link
        return await self.client.download_report(link)

    def absorb(self, tracked: Tracked, report: dict[str, Any], path: Path | None) -> None:
        """Save (when new) and count a report; stage what --delta must remember (thread)."""
        if path is not None:
            self.results.save_report(path, report)
        chunk = tracked.chunk
        self.scratch.unpark(chunk)
        with self.lock:
            effects = self.outcome.add_report(chunk, report, self.names,
                                              tracked.ingestion_id)
        self.results.rejected(effects.rejected)
        if chunk.kind == "UPLOAD":
            self.tracking.stage(self.push_id, effects.accepted)
        elif report.get("processingStatus") == "DONE":
            self.tracking.stage(self.push_id, [
                (store, sku, None) for sku in chunk.skus
                for store in self.archive_pairs.get(sku, ())])
        if chunk.kind == "ARCHIVE":
            for sku in chunk.skus:
                self.archive_pairs.pop(sku, None)
        chunk.refs, chunk.digests = array("Q"), b""  # counted: the arrays are done with
