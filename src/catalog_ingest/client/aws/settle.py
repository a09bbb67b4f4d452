"""Ending an upload (seed 003 steps 16-20): fetch its report, store it in S3, mark it in DynamoDB.

Shared by the SQS handler (a notification said the upload ended) and the scheduled poller (the
status call said so). Applied once: a chunk already settled is left alone, the settling write is
conditional, and the push is marked DONE by whoever settles its last chunk.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from catalog_ingest.client import CatalogClient, ReportLinkExpired
from catalog_ingest.client.aws.config import Aws, Config
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.client.aws.s3io import parse_s3_uri, put_bytes, put_json
from catalog_ingest.client.push.results import SUMMARY
from catalog_ingest.client.push.tracking import SETTLED, ChunkRecord, PushRecord

log = logging.getLogger(__name__)
_COUNTS = ("itemsReceived", "itemsAccepted", "itemsRejected", "itemsCreated", "itemsUpdated",
           "itemsUnchanged", "warnings")


def report_name(seq: int, store_id: str | None, ingestion_id: str) -> str:
    """The report's file name, as ``push`` names it in its results directory."""
    label = "archive" if store_id is None else "".join(
        c if c.isalnum() or c in "-_." else "_" for c in store_id)[:60]
    return f"{seq:05d}-{label}-{ingestion_id}.json"


def results_location(push: PushRecord, config: Config) -> tuple[str, str]:
    """(bucket, key prefix) of a push's results, as its S3 handler recorded them."""
    uri = push.options.get("results_uri")
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket, prefix = parse_s3_uri(uri.rstrip("/") + "/x")
        return bucket, prefix[:-1]
    return config.results_bucket, f"{config.results_prefix}{push.push_id}/"


def fetch_report(api: CatalogClient, ingestion_id: str, link: str) -> dict[str, Any]:
    """The report behind ``link``; one that expired is replaced by a fresh one (status call)."""
    try:
        return api.download_report(link)
    except ReportLinkExpired:
        fresh = api.get_status(ingestion_id).report_url
        if not fresh:
            raise
        return api.download_report(fresh)


def complete(aws: Aws, config: Config, ingestion_id: str, status: str, link: str | None,
             api: CatalogClient) -> str:
    """Store the report of an upload that ended and settle its chunk; returns what was done:
    ``stored``, ``duplicate`` (settled before: nothing written) or ``untracked``."""
    tracking = aws.tracking
    found = tracking.find_ingestion(ingestion_id)
    if found is None:
        # Not one of ours (an upload from the portal or another tool): keep the report anyway.
        if link:
            report = fetch_report(api, ingestion_id, link)
            put_bytes(aws.s3, config.results_bucket,
                      f"{config.results_prefix}untracked/{ingestion_id}.json",
                      msgspec.json.encode(report), "application/json")
        return "untracked"
    push, chunk = found
    if chunk.status in SETTLED:
        return "duplicate"
    changes: dict[str, Any] = {"status": status, "completed_at": time.time()}
    if link and status != "CANCELLED":
        report = fetch_report(api, ingestion_id, link)
        bucket, prefix = results_location(push, config)
        key = prefix + report_name(chunk.seq, chunk.store_id, ingestion_id)
        put_bytes(aws.s3, bucket, key, msgspec.json.encode(report), "application/json")
        changes.update(status=report.get("processingStatus", status),
                       report_path=f"s3://{bucket}/{key}", summary=report.get("summary"),
                       report_link=link)
    if not tracking.settle_chunk(push.push_id, chunk.seq, **changes):
        return "duplicate"
    finish_if_settled(tracking, push.push_id, aws, config)
    return "stored"


def finish_if_settled(tracking: DynamoTracking, push_id: str, aws: Aws, config: Config) -> bool:
    """Mark the push DONE (once) when every chunk of it has ended; write its summary."""
    push = tracking.push(push_id)
    if push is None or push.status not in ("SUBMITTED", "DONE"):
        return False
    chunks = tracking.chunks(push_id)
    if not all(c.status in SETTLED for c in chunks):
        return False
    summary = push_summary(push, chunks)
    if not tracking.finalize_push(push_id, summary):
        return False
    bucket, prefix = results_location(push, config)
    put_json(aws.s3, bucket, prefix + SUMMARY, summary)
    return True


def push_summary(push: PushRecord, chunks: list[ChunkRecord]) -> dict[str, Any]:
    totals = dict.fromkeys(_COUNTS, 0)
    for chunk in chunks:
        for name in _COUNTS:
            totals[name] += int((chunk.summary or {}).get(name, 0) or 0)
    return {**(push.summary or {}), "pushId": push.push_id, "status": "DONE",
            "source": push.options.get("s3_source"), "rowsRead": push.rows_read,
            "rowsInvalid": push.rows_invalid, "reports": totals,
            "uploads": [{"seq": c.seq, "storeId": c.store_id, "ingestionId": c.ingestion_id,
                         "status": c.status, "report": c.report_path} for c in chunks]}
