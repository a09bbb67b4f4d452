"""Retry policy: which failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from catalog_ingest.client._exceptions import CatalogClientError, Throttled

#: Called after every attempt of a call: (attempt number from 1, the error or None when the
#: attempt succeeded, the seconds waited before the next attempt or None when there is none).
AttemptHook = Callable[[int, CatalogClientError | None, float | None], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After.

    Only errors whose ``retryable`` is true are retried: Throttled (429), RetryableServerError
    (the "please retry again." 500) and ConnectionFailed. Before attempt n+1 the client
    waits ``uniform(0, min(cap, base * 2**(n-1)))`` seconds, and never less than the
    server's Retry-After. ``on_attempt`` (optional) hears of every attempt as it ends: the
    push records each one in its tracking database through it.
    """

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 20.0
    on_attempt: AttemptHook | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must not be negative")

    def backoff(self, attempt: int, jitter: float) -> float:
        """Full-jitter delay after failed attempt ``attempt`` (1-based); jitter in [0, 1]."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt - 1, 62))
        return ceiling * min(max(jitter, 0.0), 1.0)

    def delay(self, attempt: int, error: CatalogClientError, jitter: float) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up and raise."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        wait = self.backoff(attempt, jitter)
        if isinstance(error, Throttled) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


def attempted(policy: RetryPolicy, attempt: int, error: CatalogClientError | None,
              delay: float | None) -> None:
    """Tell the policy's hook (if any) how attempt ``attempt`` ended."""
    if policy.on_attempt is not None:
        policy.on_attempt(attempt, error, delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
