"""The payload write gets under way before intake decodes the body (the decode holds the GIL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from catalog_ingest.blobs.local import LocalBlobStore
from catalog_ingest.engine.intake import stage_payload
from catalog_ingest.runtime import Runtime


class HeldStore:
    """A blob store whose write gets under way, then waits to be let finish."""

    def __init__(self) -> None:
        self.writing: threading.Event | None = None
        self.finish = threading.Event()

    def put(self, key: str, data: bytes, writing: threading.Event | None = None) -> None:
        self.writing = writing
        assert writing is not None
        writing.set()
        self.finish.wait(30)


def test_staging_returns_once_the_write_is_under_way_not_done() -> None:
    store = HeldStore()
    with ThreadPoolExecutor(1) as io:
        svc = cast(Runtime, SimpleNamespace(blobs=store, io=io))
        staged = stage_payload(svc, b'{"catalogItems": []}')
        assert store.writing is not None and store.writing.is_set()
        assert not staged.written.done()  # the decode can run meanwhile
        store.finish.set()
        staged.written.result(30)


def test_the_local_store_says_when_its_write_is_under_way(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    writing = threading.Event()
    seen: list[Any] = []
    original = store._write

    def spy(path: Path, tmp: Path, data: bytes, event: threading.Event | None) -> None:
        seen.append(event)
        original(path, tmp, data, event)

    store._write = spy  # type: ignore[method-assign]
    store.put("payloads/a.json", b"x" * 100_000, writing)
    assert seen == [writing] and writing.is_set()
    assert store.get("payloads/a.json") == b"x" * 100_000
    store.put("payloads/b.json", b"y")  # without an event, as every other caller
    assert store.get("payloads/b.json") == b"y"
