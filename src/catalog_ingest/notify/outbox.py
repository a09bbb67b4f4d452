"""The notification outbox: completion messages recorded with the upload's end, delivered later."""

from __future__ import annotations

from typing import Any


def record(conn: Any, retailer_id: str, ingestion_id: str, status: str,
           summary: dict[str, int] | None, now: float) -> None:
    """Record one completion message per confirmed subscription (none exist yet: a no-op)."""
    return None
