"""Push observers the tests share."""

from __future__ import annotations

import asyncio
from typing import Any

from catalog_ingest.client.push import PushObserver


class CancelAfter(PushObserver):
    """Cancels the running push after ``count`` chunks were accepted (as Ctrl-C does)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def chunk_sent(self, chunk: Any, ingestion_id: str, replayed: bool) -> None:
        self.count -= 1
        if self.count == 0:
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().call_soon(task.cancel)
