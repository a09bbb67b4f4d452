"""Counts for operators (metrics at scrape time): uploads and outbox messages by status."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from catalog_ingest.storage import tables as t


def upload_status_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(t.uploads.c.status, func.count()).group_by(t.uploads.c.status))
    return {status: int(count) for status, count in rows}


def outbox_status_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(t.outbox.c.status, func.count()).group_by(t.outbox.c.status))
    return {status: int(count) for status, count in rows}
