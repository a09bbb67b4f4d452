"""The results directory of a push: reports, invalid and rejected rows (CSV), summary.json."""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path
from typing import IO, Any

import msgspec

from catalog_ingest.client.push.validate import Problem

INVALID_ROWS = "invalid-rows.csv"
REJECTED_ITEMS = "rejected-items.csv"
SUMMARY = "summary.json"
_INVALID_HEADER = ["file", "line", "store_id", "item_sku", "severity", "code", "field",
                   "message", "value"]
_REJECTED_HEADER = ["where", "ingestion_id", "store_id", "item_sku", "severity", "code",
                    "field", "message", "value"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (numbers such as -1 stay as they are)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ResultsDir:
    """Writes one push's results; safe to use from the planner thread and the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Rewritten by every run of the push: a resumed push re-derives both from the sources
        # and from the reports already saved.
        self._invalid_file, self._invalid = self._csv(INVALID_ROWS, _INVALID_HEADER)
        self._rejected_file, self._rejected = self._csv(REJECTED_ITEMS, _REJECTED_HEADER)

    def _csv(self, name: str, header: list[str]) -> tuple[IO[str], Any]:
        handle = open(self.path / name, "w", encoding="utf-8", newline="")  # noqa: SIM115
        writer = csv.writer(handle)
        writer.writerow(header)
        return handle, writer

    def invalid(self, problem: Problem) -> None:
        issue = problem.issue
        row = [problem.file, problem.line, problem.store_id, problem.item_sku, issue.severity,
               issue.code, issue.field, issue.message, issue.value]
        with self._lock:
            self._invalid.writerow([neutral(v) for v in row])

    def rejected(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                self._rejected.writerow([neutral(row.get(k)) for k in _REJECTED_HEADER])

    def report_path(self, seq: int, store_id: str | None, ingestion_id: str) -> Path:
        label = "archive" if store_id is None else "".join(
            c if c.isalnum() or c in "-_." else "_" for c in store_id)[:60]
        return self.path / f"{seq:05d}-{label}-{ingestion_id}.json"

    def save_report(self, path: Path, report: dict[str, Any]) -> None:
        write_atomic(path, msgspec.json.encode(report))

    def save_summary(self, summary: dict[str, Any]) -> Path:
        path = self.path / SUMMARY
        write_atomic(path, json.dumps(summary, indent=2, default=str).encode())
        return path

    def close(self) -> None:
        with self._lock:
            self._invalid_file.close()
            self._rejected_file.close()


def load_report(path: Path) -> dict[str, Any] | None:
    """A saved report, or None when it is missing or damaged (then it is fetched again)."""
    try:
        report = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return report if isinstance(report, dict) else None
