"""Waiting for accepted uploads to end: polling getCatalogUploadStatus with backoff, oldest first.

The service processes a retailer's uploads in acceptance order, so the waiter asks only about
the oldest upload still open, backing off while it is queued or in progress, and goes on to
the next at once when it ends. That keeps status calls to a trickle (they share the rate
limit with the uploads) while noticing each completion promptly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from catalog_ingest.client import AsyncCatalogClient, CatalogClientError, RetryPolicy
from catalog_ingest.client._exceptions import UnknownIngestion
from catalog_ingest.client.push.chunking import Chunk

Sleep = Callable[[float], Awaitable[object]]


@dataclass
class Tracked:
    """An accepted chunk waiting for its upload to end."""

    chunk: Chunk
    ingestion_id: str


class Completer(Protocol):
    async def complete(self, tracked: Tracked, status: str, link: str | None) -> None: ...

    async def lost(self, tracked: Tracked, message: str) -> None: ...

    def progress(self, tracked: Tracked, status: str) -> None: ...


class PollWaiter:
    """Polls the oldest open upload until it ends, then the next; backoff between polls."""

    def __init__(self, client: AsyncCatalogClient, completer: Completer, policy: RetryPolicy,
                 *, initial: float = 0.5, maximum: float = 10.0, factor: float = 1.5,
                 sleep: Sleep = asyncio.sleep) -> None:
        # Status calls are retried by the SDK, by the push's policy (throttling, resets...).
        self.client, self.completer = client.with_retry(policy), completer
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self.sleep = sleep
        self.pending: list[Tracked] = []
        self._changed = asyncio.Event()
        self._closed = False
        #: Polling starts once this is set (notification waiting may hold it back).
        self.hold = asyncio.Event()
        self.hold.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finishing = asyncio.Semaphore(2)

    def add(self, tracked: Tracked) -> None:
        self.pending.append(tracked)
        self._changed.set()

    def discard(self, ingestion_id: str) -> Tracked | None:
        for n, tracked in enumerate(self.pending):
            if tracked.ingestion_id == ingestion_id:
                del self.pending[n]
                return tracked
        return None

    def close(self) -> None:
        """No more uploads will be added."""
        self._closed = True
        self._changed.set()

    async def run(self) -> None:
        try:
            await self._loop()
            if self._tasks:
                await asyncio.gather(*list(self._tasks))
        finally:
            for task in self._tasks:
                task.cancel()

    async def _loop(self) -> None:
        delay, head = self.initial, None
        while True:
            await self.hold.wait()
            if not self.pending:
                if self._closed:
                    return
                self._changed.clear()
                await self._changed.wait()
                continue
            tracked = self.pending[0]
            if tracked is not head:
                head, delay = tracked, self.initial
            if await self._poll(tracked):
                continue
            await self.sleep(delay)
            delay = min(self.maximum, delay * self.factor)

    async def _poll(self, tracked: Tracked) -> bool:
        """Ask once; True when the upload ended (and is being completed) or is lost."""
        try:
            status = await self.client.get_status(tracked.ingestion_id)
        except UnknownIngestion as exc:
            self.discard(tracked.ingestion_id)
            await self.completer.lost(tracked, str(exc))
            return True
        except CatalogClientError as exc:
            if not exc.retryable:
                raise  # e.g. credentials refused: asking again will not help
            return False  # keep asking (with backoff): the service may be restarting
        if tracked not in self.pending:
            return True  # a notification completed it meanwhile
        if not status.terminal:
            self.completer.progress(tracked, status.processing_status)
            return False
        self.discard(tracked.ingestion_id)
        self.finish(tracked, status.processing_status, status.report_url)
        return True

    def finish(self, tracked: Tracked, status: str, link: str | None) -> None:
        """Complete ``tracked`` in the background (downloads overlap with further polling)."""
        async def run() -> None:
            async with self._finishing:
                await self.completer.complete(tracked, status, link)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
