"""Per-retailer request-rate limits: a moving window in this process, or shared in Redis.

The shared window is the `limits` library's (its Lua script keeps it atomic in Redis). The
in-process window is a deque of hit times per retailer instead of `limits`' MemoryStorage,
which starts a new expiry timer thread every 10 ms while hits arrive and inserts each hit at
the head of a list: on a status poll, that thread start (the event loop waits for the new
thread to take the GIL) was a sixth of the event loop's samples (docs/decisions.md, "Rate
limit"). Both count the same thing: at most N requests in any window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from catalog_ingest.errors import Throttled

NAMESPACE = "jwo"


class MovingWindow:
    """At most `amount` hits per key in any `seconds`-long window, counted in memory."""

    def __init__(self, amount: int, seconds: float) -> None:
        self.amount = amount
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count a hit and answer None, or refuse it (uncounted): the seconds until one of
        the window's hits expires."""
        at = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            horizon = at - self.seconds
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) < self.amount:
                hits.append(at)
                return None
            return hits[0] - horizon


class RetailerLimiter:
    """A moving window per retailer over all endpoints: at most N requests in any window."""

    def __init__(self, rate: str, redis_url: str | None = None) -> None:
        self.item = parse(rate)
        #: Counted in this process's memory: a check never waits on the network.
        self.local = not redis_url
        self.window = MovingWindow(self.item.amount, self.item.get_expiry())
        self.shared = MovingWindowRateLimiter(RedisStorage(redis_url)) if redis_url else None

    def check(self, retailer_id: str) -> None:
        """Count one request, or raise `Throttled` (the 429; a throttled request has no effect)."""
        if self.shared is None:
            wait = self.window.hit(retailer_id)
            if wait is None:
                return
            raise Throttled(max(1, math.ceil(wait)))
        if self.shared.hit(self.item, NAMESPACE, retailer_id):
            return
        stats = self.shared.get_window_stats(self.item, NAMESPACE, retailer_id)
        raise Throttled(max(1, math.ceil(stats.reset_time - time.time())))
