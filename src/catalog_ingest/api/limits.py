"""Per-retailer request-rate limits with the `limits` library: in-process or shared in Redis."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from catalog_ingest.errors import Throttled


class RetailerLimiter:
    """A moving window per retailer over all endpoints: at most N requests in any window."""

    def __init__(self, rate: str, redis_url: str | None = None) -> None:
        self.item = parse(rate)
        #: Counted in this process's memory: a check never waits on the network.
        self.local = not redis_url
        storage: Storage = RedisStorage(redis_url) if redis_url else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)

    def check(self, retailer_id: str) -> None:
        """Count one request, or raise `Throttled` (the 429; a throttled request has no effect)."""
        if self.limiter.hit(self.item, "jwo", retailer_id):
            return
        stats = self.limiter.get_window_stats(self.item, "jwo", retailer_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Throttled(retry_after)
