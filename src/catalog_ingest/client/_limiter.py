"""Client-side rate limiter: at most N calls in any P seconds, across threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable


class RateLimiter:
    """Sliding-window limiter shared by all calls of a client (or of several clients).

    Each call reserves the earliest time slot that keeps at most ``max_calls`` slots in any
    half-open window of ``period`` seconds, then waits until that slot. Reservations are made
    under a lock that is never held while waiting, so one instance serves threads (``acquire``)
    and asyncio tasks (``acquire_async``, which awaits and never blocks the event loop) at
    once; callers are served in arrival order.
    """

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("max_calls must be at least 1 and period positive")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._slots: deque[float] = deque(maxlen=max_calls)
        self._lock = threading.Lock()

    @classmethod
    def per_second(cls, rate: float, *, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        """A limiter for ``rate`` calls per second: never more than ``rate`` calls in any
        1-second window (a fractional rate above 1 is rounded down; below 1 it spaces calls
        ``1/rate`` seconds apart)."""
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError("rate must be a positive number")
        if rate >= 1:
            return cls(int(rate), 1.0, clock=clock)
        return cls(1, 1.0 / rate, clock=clock)

    def reserve(self) -> float:
        """Reserve the next slot and return its time (on the limiter's clock)."""
        with self._lock:
            now = self._clock()
            slot = now
            if self._slots:
                slot = max(slot, self._slots[-1])
            if len(self._slots) == self.max_calls:
                slot = max(slot, self._slots[0] + self.period)
            self._slots.append(slot)
            return slot

    def acquire(self, sleep: Callable[[float], object] = time.sleep) -> float:
        """Block the calling thread until it may make a call; returns the slot granted."""
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            sleep(delay)
        return slot

    async def acquire_async(
        self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    ) -> float:
        """Wait (without blocking the event loop) until the task may make a call."""
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            await sleep(delay)
        return slot
