"""What a push achieved: per-store counts and issue codes with examples, from rows and reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.validate import Problem

MAX_EXAMPLES = 3
NO_STORE = "(no store)"


@dataclass
class StoreCounts:
    """One store's items: found invalid locally, skipped as unchanged (--delta), sent, and what
    the service made of them; ``failed`` are items of uploads that failed as a whole."""

    invalid: int = 0
    skipped_unchanged: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    archived: int = 0


@dataclass
class CodeStats:
    origin: str  # "local" (validation before sending) or "service" (from a report)
    code: str
    severity: str
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportEffects:
    """What one report changes outside the counts: delta hashes to stage, rejected items."""

    accepted: list[tuple[str, str, bytes]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


#: File-level problems: the file (or its columns) gave no items at all.
SOURCE_PROBLEMS = frozenset({"SOURCE_UNREADABLE", "NO_MATCHING_COLUMNS", "MISSING_COLUMNS"})


class Outcome:
    """Accumulates a push's results; ``failed`` decides the exit status."""

    def __init__(self) -> None:
        self.stores: dict[str, StoreCounts] = {}
        self.codes: dict[tuple[str, str, str], CodeStats] = {}
        self.chunk_failures: list[dict[str, Any]] = []
        self.chunks = {"planned": 0, "accepted": 0, "done": 0, "failed": 0}
        self.source_errors = 0
        self.archive_skipped: str | None = None

    def store(self, store_id: str | None) -> StoreCounts:
        key = store_id or NO_STORE
        counts = self.stores.get(key)
        if counts is None:
            counts = self.stores[key] = StoreCounts()
        return counts

    def _code(self, origin: str, code: str, severity: str, example: dict[str, Any]) -> None:
        key = (origin, code, severity)
        stats = self.codes.get(key)
        if stats is None:
            stats = self.codes[key] = CodeStats(origin, code, severity)
        stats.count += 1
        if len(stats.examples) < MAX_EXAMPLES:
            stats.examples.append(example)

    def add_problem(self, problem: Problem) -> None:
        issue = problem.issue
        if issue.code in SOURCE_PROBLEMS:
            self.source_errors += 1
        self._code("local", issue.code, issue.severity,
                   {"where": problem.where, "store_id": problem.store_id,
                    "item_sku": problem.item_sku, "message": issue.message})

    def add_report(self, chunk: Chunk, report: dict[str, Any], files: Sequence[str],
                   ingestion_id: str) -> ReportEffects:
        """Count one DONE or FATAL report of ``chunk``."""
        effects = ReportEffects()
        if report.get("processingStatus") != "DONE":
            self.add_failed(chunk, _fatal_message(report))
            err = report.get("error") or {}
            self._code("service", str(err.get("code") or "FATAL"), "ERROR",
                       {"where": f"upload {ingestion_id}", "store_id": chunk.store_id,
                        "item_sku": None, "message": str(err.get("message") or "")})
            return effects
        self.chunks["done"] += 1
        for result in report.get("itemResults") or ():
            self._result(chunk, result, files, ingestion_id, effects)
        return effects

    def _result(self, chunk: Chunk, result: dict[str, Any], files: Sequence[str],
                ingestion_id: str, effects: ReportEffects) -> None:
        index = result.get("index", -1)
        store, sku = result.get("store_id"), result.get("item_sku")
        counts = self.store(store)
        where = chunk.where(index, files) if chunk.kind == "UPLOAD" else None
        where = where or f"upload {ingestion_id} item {index}"
        if result.get("status") == "ACCEPTED":
            action = result.get("action")
            if action == "ARCHIVED":
                counts.archived += 1
            else:
                counts.accepted += 1
                if action in ("CREATED", "UPDATED", "UNCHANGED"):
                    setattr(counts, action.lower(), getattr(counts, action.lower()) + 1)
                if store is not None and sku is not None:
                    effects.accepted.append((store, sku, chunk.digest(index)))
        elif chunk.kind == "UPLOAD":
            counts.rejected += 1
        for issue in result.get("issues") or ():
            self._code("service", str(issue.get("code")), str(issue.get("severity")),
                       {"where": where, "store_id": store, "item_sku": sku,
                        "message": issue.get("message")})
            if (result.get("status") != "ACCEPTED" and chunk.kind == "UPLOAD"
                    and issue.get("severity") == "ERROR"):
                effects.rejected.append({"where": where, "ingestion_id": ingestion_id,
                                         "store_id": store, "item_sku": sku, **issue})

    def add_failed(self, chunk: Chunk, message: str) -> None:
        """A chunk the service refused, failed (FATAL) or cancelled: its items did not land."""
        self.chunks["failed"] += 1
        if chunk.kind == "UPLOAD":
            self.store(chunk.store_id).failed += chunk.item_count
        self.chunk_failures.append({"seq": chunk.seq, "kind": chunk.kind,
                                    "store_id": chunk.store_id, "items": chunk.item_count,
                                    "error": message})

    @property
    def failed(self) -> bool:
        """Anything rejected (locally or by the service) or failed: exit status 1."""
        if self.source_errors or self.chunk_failures:
            return True
        return any(c.invalid or c.rejected or c.failed for c in self.stores.values())

    def totals(self) -> StoreCounts:
        total = StoreCounts()
        for counts in self.stores.values():
            for name, value in asdict(counts).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def top_codes(self, limit: int = 10) -> list[CodeStats]:
        """Errors first, then warnings, each by frequency."""
        ranked = sorted(self.codes.values(),
                        key=lambda s: (s.severity != "ERROR", -s.count, s.origin, s.code))
        return ranked[:limit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "chunks": dict(self.chunks),
            "totals": asdict(self.totals()),
            "stores": {k: asdict(v) for k, v in sorted(self.stores.items())},
            "issues": [asdict(s) for s in self.top_codes(limit=1000)],
            "chunkFailures": self.chunk_failures,
            "sourceErrors": self.source_errors,
            "archiveSkipped": self.archive_skipped,
        }


def _fatal_message(report: dict[str, Any]) -> str:
    err = report.get("error") or {}
    status = report.get("processingStatus") or "FATAL"
    return f"{status}: {err.get('message') or 'the upload failed as a whole'}"
