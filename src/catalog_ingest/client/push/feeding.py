"""From the planner thread to the event loop: chunks through bounded queues, failures at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from catalog_ingest.client.push.chunking import Cancelled, Chunk, ChunkPlanner

ChunkQueue = asyncio.Queue[Chunk | None]


def produce(loop: asyncio.AbstractEventLoop, queue: ChunkQueue, planner: ChunkPlanner,
            stop: threading.Event, failure: list[BaseException]) -> None:
    """Planner thread: chunks into the queue (blocking while it is full), then None; a
    failure of planning is put in ``failure``; ``stop`` ends it early."""
    try:
        try:
            for chunk in planner.chunks():
                _put(loop, queue, chunk, stop)
        except Cancelled:
            raise
        except BaseException as exc:
            failure.append(exc)
        _put(loop, queue, None, stop)
    except Cancelled:
        return


def _put(loop: asyncio.AbstractEventLoop, queue: ChunkQueue, chunk: Chunk | None,
         stop: threading.Event) -> None:
    future = asyncio.run_coroutine_threadsafe(queue.put(chunk), loop)
    while True:
        try:
            future.result(timeout=0.2)
            return
        except concurrent.futures.CancelledError:
            raise Cancelled from None
        except TimeoutError:
            if stop.is_set():
                future.cancel()
                raise Cancelled from None


async def put_checked(queue: ChunkQueue, chunk: Chunk | None,
                      senders: list[asyncio.Task[None]]) -> None:
    """Put into a lane's queue, but raise at once if a sender died (instead of blocking)."""
    put = asyncio.ensure_future(queue.put(chunk))
    while True:
        done, _ = await asyncio.wait([put, *senders], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not put and task.exception() is not None:
                put.cancel()
                raise task.exception()  # type: ignore[misc]
        if put in done:
            return
        senders = [t for t in senders if not t.done()]
