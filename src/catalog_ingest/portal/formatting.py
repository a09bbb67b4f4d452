"""Jinja filters for the portal's pages: times, durations and counts as a person reads them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def when(epoch: float | None) -> str:
    """An epoch time as `2026-12-01 07:40:12 UTC`; an em dash when there is none."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(epoch: float | None) -> str:
    """For <time datetime=…>."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def duration(seconds: float | None) -> str:
    """`4 s`, `3 min 05 s`, `2 h 07 min`."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def ago(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return duration(time.time() - epoch) + " ago"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when, "iso": iso, "duration": duration, "ago": ago, "count": count,
}
