"""The processing report: the document, where it lives in the blob store, and reading it by link."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from catalog_ingest import links
from catalog_ingest.engine.planner import ItemResult
from catalog_ingest.runtime import Runtime

_encoder = msgspec.json.Encoder()


def report_key(ingestion_id: str) -> str:
    return f"reports/{ingestion_id}.json"


def payload_key(ingestion_id: str) -> str:
    return f"payloads/{ingestion_id}.json"


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.120Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_report(*, ingestion_id: str, status: str, submitted_at: float,
                 started_at: float | None, completed_at: float, summary: dict[str, int],
                 results: Sequence[ItemResult] | msgspec.Raw,
                 error: dict[str, str] | None = None) -> bytes:
    """The report document; `results` may come pre-encoded (`encode_results`)."""
    doc: dict[str, Any] = {
        "ingestionId": ingestion_id,
        "processingStatus": status,
        "submittedAt": iso(submitted_at),
        "startedAt": iso(started_at),
        "completedAt": iso(completed_at),
        "summary": summary,
        "itemResults": results if isinstance(results, msgspec.Raw) else encode_results(results),
    }
    if error is not None:
        doc["error"] = error
    return _encoder.encode(doc)


def encode_results(results: Sequence[ItemResult]) -> msgspec.Raw:
    """The report's itemResults array, encoded ahead of the rest of the document.

    A result without issues (most of them) is encoded as the dataclass itself: msgspec writes
    its fields in order, the same bytes as `to_dict`'s without a dict built per item. This
    runs beside the catalog writes, on the same interpreter lock.
    """
    return msgspec.Raw(_encoder.encode([r.to_dict() if r.issues else r for r in results]))


def fatal_summary(received: int) -> dict[str, int]:
    return {
        "itemsReceived": received, "itemsAccepted": 0, "itemsRejected": 0, "itemsCreated": 0,
        "itemsUpdated": 0, "itemsUnchanged": 0, "warnings": 0,
    }


def read_report(svc: Runtime, ingestion_id: str, params: dict[str, str]) -> bytes:
    """The report behind a genuine, unexpired link (`LinkInvalid`/`LinkExpired` otherwise)."""
    links.check(svc.settings, links.report_path(ingestion_id), params)
    return svc.blobs.get(report_key(ingestion_id))
