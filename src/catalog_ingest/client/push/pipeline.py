"""The push of seed 003: plan chunks, upload them within the rate limit, wait, collect reports.

Framework-free: the CLI gives it a client, a tracking database and an observer. Steps:

1. settle the push: a new one (superseding unfinished pushes of the same source), or the one
   being resumed (its sources must be byte-identical);
2. with --archive-missing, archive the SKUs that left the source, before any upload (so that
   their barcodes are free for the new items);
3. plan chunks in a thread while the event loop uploads them: chunks of one store one after
   the other (acceptance order is processing order), stores concurrently, all requests
   through one rate limiter; every chunk is recorded before it is sent and its ingestion id
   right after the 201; the SDK's retry (by the push's policy) reuses the chunk's
   content-derived Idempotency-Key and records every attempt through its ``on_attempt`` hook;
4. wait for every upload (polling, or notifications listened for from before the first
   upload, then polling), download each report, count it, stage the delta hashes, and
   merge them once the whole push has ended.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import msgspec

from catalog_ingest.client import (
    ArchiveStoresMismatch,
    AsyncCatalogClient,
    AttemptHook,
    CatalogClientError,
    RequestTooLarge,
    RetryPolicy,
)
from catalog_ingest.client.push.archiving import archive_missing
from catalog_ingest.client.push.chunking import (
    Chunk,
    ChunkPlanner,
    DeltaBasis,
    archive_chunk,
    idempotency_key,
    split_chunk,
)
from catalog_ingest.client.push.collect import Collector
from catalog_ingest.client.push.feeding import produce, put_checked
from catalog_ingest.client.push.notify import Notifier
from catalog_ingest.client.push.options import PushError, PushObserver, PushOptions, PushResult
from catalog_ingest.client.push.outcome import Outcome
from catalog_ingest.client.push.results import ResultsDir, load_report
from catalog_ingest.client.push.scratch import Scratch
from catalog_ingest.client.push.setup import Setup, settle_push
from catalog_ingest.client.push.tracking import SETTLED, ChunkRecord, Tracking
from catalog_ingest.client.push.validate import Problem
from catalog_ingest.client.push.waiting import PollWaiter, Tracked

Sleep = Callable[[float], Awaitable[object]]
#: The status of a chunk sent as two halves after a 413 (the halves are chunks of their own).
SPLIT = "SPLIT"


class Push:
    """One run of a push (new or resumed). ``await Push(...).run()`` → PushResult."""

    def __init__(self, options: PushOptions, client: AsyncCatalogClient, tracking: Tracking,
                 observer: PushObserver | None = None, *, sleep: Sleep = asyncio.sleep) -> None:
        """``sleep`` paces the polling; the waits between retries are the client's own (its
        ``sleep`` and ``jitter``), by this push's policy (``max_attempts``)."""
        self.options, self.client, self.tracking = options, client, tracking
        self.observer = observer or PushObserver()
        self.sleep = sleep
        self.policy = RetryPolicy(max_attempts=options.max_attempts)
        self.outcome = Outcome()
        self._stop = threading.Event()
        self.setup: Setup
        self.results: ResultsDir
        self.scratch: Scratch
        self.notifier: Notifier | None = None
        self.collector: Collector
        self.waiter: PollWaiter

    # --- the run -------------------------------------------------------------------------------

    async def run(self) -> PushResult:
        self.setup = settle_push(self.options, self.client.endpoint, self.tracking)
        self.options = self.setup.options
        self.policy = RetryPolicy(max_attempts=self.options.max_attempts)
        self.results = ResultsDir(self.setup.results_dir)
        self.scratch = Scratch()
        self.collector = Collector(self.setup.push_id, self.setup.names, self.client,
                                   self.tracking, self.results, self.outcome, self.observer,
                                   self.policy, self.scratch)
        self.waiter = PollWaiter(self.client, self.collector, self.policy,
                                 initial=self.options.poll_initial,
                                 maximum=self.options.poll_max, sleep=self.sleep)
        if self.options.wait and self.options.notify is not None:
            self.waiter.hold.clear()  # polling waits for the notifications
            self.notifier = Notifier(self, self.options.notify, self.setup.endpoint,
                                     self.client.region)
        waiting = asyncio.ensure_future(self.waiter.run()) if self.options.wait else None
        status = "INTERRUPTED"
        try:
            self.observer.begin(self.setup.push_id, self.setup.total_bytes, self.setup.resumed)
            if self.notifier is not None:
                self.notifier.start()
                await self.notifier.ready()  # listening before the first upload
            first_seq = await archive_missing(self)
            await self._plan_and_send(first_seq)
            self.waiter.close()
            if self.notifier is not None:
                await self._notifications()
            if waiting is not None:
                await waiting
            status = "ENDED"
        finally:
            if waiting is not None and not waiting.done():
                waiting.cancel()
            self._stop.set()
            self.results.close()
            self.scratch.close()
            result = PushResult(self.setup.push_id, self._finish(status), self.outcome,
                                self.setup.results_dir, self.setup.resumed)
            self.observer.end(result)  # also when interrupted: the display must stop
        return result

    async def _plan_and_send(self, first_seq: int) -> None:
        loop = asyncio.get_running_loop()
        # Few chunks wait (each holds its body, up to --max-body-bytes): one here, one per
        # store lane, one being sent per lane; planning goes on meanwhile.
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=1)
        planner = ChunkPlanner(self.setup.files, self.setup.mapping, _PlanSink(self),
                               chunk_size=self.options.chunk_size, max_body=self.options.max_body,
                               delta=self._delta_basis() if self.options.delta else None,
                               stop=self._stop, first_seq=first_seq, state=self.scratch)
        failure: list[BaseException] = []
        thread = threading.Thread(target=produce, args=(loop, queue, planner, self._stop,
                                                        failure),
                                  name="push-planner", daemon=True)
        thread.start()
        try:
            await self._dispatch(queue)
        finally:
            self._stop.set()
            thread.join(timeout=30)
        if failure:
            raise failure[0]
        self._absorb_stats(planner)

    async def _dispatch(self, queue: asyncio.Queue[Chunk | None]) -> None:
        """Send chunks: one store's in order, several stores at once (bounded)."""
        slots = asyncio.Semaphore(self.options.concurrency)
        lanes: dict[str | None, asyncio.Queue[Chunk | None]] = {}
        senders: list[asyncio.Task[None]] = []

        async def lane(chunks: asyncio.Queue[Chunk | None]) -> None:
            while (chunk := await chunks.get()) is not None:
                async with slots:
                    await self.send(chunk)

        try:
            while (chunk := await queue.get()) is not None:
                if chunk.store_id not in lanes:
                    lanes[chunk.store_id] = asyncio.Queue(maxsize=1)
                    senders.append(asyncio.ensure_future(lane(lanes[chunk.store_id])))
                await put_checked(lanes[chunk.store_id], chunk, senders)
            for chunks in lanes.values():
                await put_checked(chunks, None, senders)
            await asyncio.gather(*senders)
        finally:
            for task in senders:
                task.cancel()

    # --- sending -------------------------------------------------------------------------------

    async def send(self, chunk: Chunk, *, half: bool = False) -> None:
        """Send one chunk (or collect it, when an earlier run did) and hand it to the waiter."""
        record = self.tracking.chunk(self.setup.push_id, chunk.seq)
        if record is None:
            record = self._record(chunk)
            self.tracking.add_chunk(record)
        elif (record.fingerprint, record.kind) != (chunk.fingerprint, chunk.kind):
            raise PushError(
                f"chunk {chunk.seq} is not the one planned before (the sources, the mapping or "
                "the tracked items changed): start a new push instead of resuming")
        if not half:  # a split's halves are counted by the split
            with self.collector.lock:
                self.outcome.chunks["planned"] += 1
            self.observer.chunk_planned(chunk)
        if record.status == SPLIT:  # resumed: the same halves as before
            await self._send_halves(chunk)
            return
        if record.ingestion_id:
            chunk.body = b""  # only the rows and hashes are needed from here on
            self._accepted(chunk, record.ingestion_id, replayed=True)
            await self._resume(chunk, record)
            return
        try:
            ingestion_id = await self._upload(chunk, record.idempotency_key)
        except _TooLarge:
            self.tracking.update_chunk(self.setup.push_id, chunk.seq, status=SPLIT,
                                       error="413: sent as two halves")
            await self._send_halves(chunk)
            return
        chunk.body = b""
        if ingestion_id is not None:
            self._accepted(chunk, ingestion_id, replayed=False)
            if self.options.wait:
                self._wait_for(Tracked(chunk, ingestion_id))

    def _record(self, chunk: Chunk) -> ChunkRecord:
        salt = self.setup.push_id if self.options.force else ""
        files = self.setup.names
        first = chunk.where(0, files) if chunk.kind == "UPLOAD" else chunk.skus[0]
        last = (chunk.where(chunk.item_count - 1, files) if chunk.kind == "UPLOAD"
                else chunk.skus[-1])
        return ChunkRecord(self.setup.push_id, chunk.seq, chunk.kind, chunk.store_id,
                           chunk.fingerprint, idempotency_key(self.setup.endpoint, chunk.body,
                                                              salt),
                           chunk.item_count, first, last)

    async def _upload(self, chunk: Chunk, key: str) -> str | None:
        """POST the chunk until accepted; None when it failed for good (recorded).

        The SDK retries the call by the push's policy; its ``on_attempt`` hook records every
        attempt in the tracking database. The loop here only re-plans an archive whose store
        set the service corrected (a new request, not a retry)."""
        push_id = self.setup.push_id
        client = self.client.with_retry(replace(self.policy, on_attempt=self._recorder(chunk)))
        self.tracking.update_chunk(push_id, chunk.seq, status="SENDING")
        while True:
            try:
                if chunk.kind == "ARCHIVE":
                    accepted = await client.archive(chunk.skus, _stores_of(chunk),
                                                    idempotency_key=key)
                else:
                    accepted = await client.upload_raw(chunk.body, idempotency_key=key)
            except ArchiveStoresMismatch as exc:
                if not exc.store_ids or set(exc.store_ids) == set(_stores_of(chunk)):
                    self._failed(chunk, exc)
                    return None
                chunk.body = archive_chunk(chunk.seq, chunk.skus, exc.store_ids).body
                key = idempotency_key(self.setup.endpoint, chunk.body,
                                      self.setup.push_id if self.options.force else "")
                self.tracking.update_chunk(push_id, chunk.seq, idempotency_key=key)
                continue
            except RequestTooLarge as exc:
                if chunk.kind != "UPLOAD" or chunk.item_count < 2:
                    self._failed(chunk, exc)
                    return None
                raise _TooLarge from exc
            except CatalogClientError as exc:
                self._failed(chunk, exc)
                return None
            self.tracking.update_chunk(push_id, chunk.seq, status="ACCEPTED", error=None,
                                       ingestion_id=accepted.ingestion_id,
                                       submitted_at=time.time())
            return accepted.ingestion_id

    async def _send_halves(self, chunk: Chunk) -> None:
        """A chunk the service found too large (413), sent as two uploads of half its items
        (each tracked, with its own Idempotency-Key; a half still too large is split again)."""
        first, second = split_chunk(chunk)
        chunk.body = b""
        with self.collector.lock:
            self.outcome.chunks["planned"] += 1  # two uploads instead of one
        self.observer.note(f"upload {chunk.seq} ({chunk.store_id}, {chunk.item_count} items) "
                           f"is over the service's size limit: sent as two halves")
        for half in (first, second):
            await self.send(half, half=True)

    def _recorder(self, chunk: Chunk) -> AttemptHook:
        """The retry hook that records each attempt of ``chunk``'s request."""
        push_id, seq = self.setup.push_id, chunk.seq

        def record(attempt: int, error: CatalogClientError | None, delay: float | None) -> None:
            if error is None:
                self.tracking.record_attempt(push_id, seq, "ACCEPTED", 201)
            else:
                self.tracking.record_attempt(push_id, seq, type(error).__name__,
                                             error.status_code, error.request_id,
                                             error.message[:500])

        return record

    def _failed(self, chunk: Chunk, exc: CatalogClientError) -> None:
        message = str(exc)
        self.tracking.update_chunk(self.setup.push_id, chunk.seq, status="FAILED", error=message)
        with self.collector.lock:
            self.outcome.add_failed(chunk, message)
        self.observer.chunk_failed(chunk, message)

    def _accepted(self, chunk: Chunk, ingestion_id: str, replayed: bool) -> None:
        with self.collector.lock:
            self.outcome.chunks["accepted"] += 1
            if chunk.kind == "UPLOAD":
                self.outcome.store(chunk.store_id).sent += chunk.item_count
        self.observer.chunk_sent(chunk, ingestion_id, replayed)

    async def _resume(self, chunk: Chunk, record: ChunkRecord) -> None:
        """A chunk accepted in an earlier run: count its saved report, or wait for it again."""
        tracked = Tracked(chunk, record.ingestion_id or "")
        if record.status in SETTLED:
            report = load_report(Path(record.report_path)) if record.report_path else None
            if report is not None:
                await asyncio.to_thread(self.collector.absorb, tracked, report, None)
                self.observer.chunk_settled(chunk, record.status, report.get("summary"))
                return
            if record.status == "CANCELLED":
                self.collector.cancelled(tracked, record.status)
                return
        if self.options.wait:
            self._wait_for(tracked)

    # --- notifications -------------------------------------------------------------------------

    async def _notifications(self) -> None:
        """Wait for completion notifications of the open uploads, then let polling finish."""
        assert self.notifier is not None
        try:
            await self.notifier.finish()
        finally:
            self.waiter.hold.set()

    def _wait_for(self, tracked: Tracked) -> None:
        """Hand an accepted upload to the waiter (and to the notifications, when used)."""
        self.scratch.park(tracked.chunk)  # its arrays wait on disk for the report
        self.waiter.add(tracked)
        if self.notifier is not None:
            self.notifier.add(tracked.ingestion_id)

    def notified(self, ingestion_id: str, status: str, link: str | None) -> None:
        tracked = self.waiter.discard(ingestion_id)
        if tracked is not None:
            self.waiter.finish(tracked, status, link)

    # --- the end -------------------------------------------------------------------------------

    def _delta_basis(self) -> DeltaBasis:
        endpoint, key = self.setup.endpoint, self.setup.source_key
        return lambda store, skus: self.tracking.known_hashes(endpoint, key, store, skus)

    def _absorb_stats(self, planner: ChunkPlanner) -> None:
        stats = planner.stats
        with self.collector.lock:
            for store_id, count in stats.invalid_by_store.items():
                self.outcome.store(store_id).invalid = count
            for store_id, count in stats.unchanged_by_store.items():
                self.outcome.store(store_id).skipped_unchanged = count
        self.tracking.update_push(self.setup.push_id, rows_read=stats.rows,
                                  rows_invalid=stats.invalid)

    def _finish(self, ran: str) -> str:
        push_id = self.setup.push_id
        chunks = self.tracking.chunks(push_id)
        if ran != "ENDED":
            status = "INTERRUPTED"
        elif all(c.status in SETTLED or c.status == SPLIT for c in chunks):
            status = "DONE"
        elif not self.options.wait and all(c.ingestion_id or c.status == SPLIT
                                           for c in chunks):
            status = "SUBMITTED"
        else:
            status = "INCOMPLETE"
        if status == "DONE":
            self.tracking.merge_staged(push_id, self.setup.endpoint, self.setup.source_key)
        summary = {"pushId": push_id, "status": status, "endpoint": self.setup.endpoint,
                   "sources": self.setup.names, "resumed": self.setup.resumed,
                   **self.outcome.to_dict()}
        self.results.save_summary(summary)
        self.tracking.update_push(push_id, status=status, finished_at=time.time(),
                                  summary=self.outcome.to_dict(), pid=None)
        return status


class _TooLarge(Exception):
    """The service answered 413 to an upload that can be split."""


class _PlanSink:
    """The planner thread's observer: problems are counted, written and shown."""

    def __init__(self, push: Push) -> None:
        self.push = push

    def rows_read(self, rows: int, done_bytes: int) -> None:
        self.push.observer.rows_read(rows, done_bytes)

    def problem(self, problem: Problem) -> None:
        # Warnings of valid rows come back in the service's reports: counted from there.
        if problem.issue.is_error:
            with self.push.collector.lock:
                self.push.outcome.add_problem(problem)
            self.push.results.invalid(problem)
        self.push.observer.problem(problem)


def _stores_of(chunk: Chunk) -> list[str]:
    stores: list[str] = msgspec.json.decode(chunk.body)["allApplicableStores"]
    return stores
