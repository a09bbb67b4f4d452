"""Settling which push runs: a new one, or the one to resume (and checking it may be resumed)."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_ingest.client.push.mapping import IDENTITY, ItemMapping, load_mapping
from catalog_ingest.client.push.options import PushError, PushOptions
from catalog_ingest.client.push.sources import FileInfo, inspect
from catalog_ingest.client.push.tracking import (
    RESUMABLE,
    PushRecord,
    TrackingBackend,
    default_data_dir,
    supersede,
)


@dataclass
class Setup:
    push_id: str
    endpoint: str
    source_key: str
    files: list[FileInfo]
    mapping: ItemMapping
    results_dir: Path
    resumed: bool
    #: The options in force: a resumed push plans with the options it was started with.
    options: PushOptions

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.files]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def source_key(options: PushOptions) -> str:
    """What identifies "the same source" for --delta and --resume: --source-name, else the
    sorted absolute paths of the files."""
    if options.source_name:
        return options.source_name
    return "\n".join(sorted(str(p.resolve()) for p in options.sources))


def load(options: PushOptions) -> tuple[ItemMapping, list[FileInfo]]:
    mapping = load_mapping(options.mapping_path) if options.mapping_path else IDENTITY
    mapping = mapping.with_store(options.store)
    return mapping, [inspect(p, mapping.source) for p in options.sources]


def find_resumable(tracking: TrackingBackend, options: PushOptions,
                   endpoint: str | None = None) -> PushRecord:
    """The push ``--resume`` means: the one named, else the newest resumable one (of these
    sources to this endpoint, when they are given)."""
    if isinstance(options.resume, str):
        record = tracking.push(options.resume)
        if record is None:
            raise PushError(f"no push {options.resume} in {tracking.path}")
    elif options.sources and endpoint:
        record = tracking.latest_resumable(endpoint, source_key(options))
    else:
        record = next((p for p in tracking.pushes(200) if p.status in RESUMABLE), None)
    if record is None:
        raise PushError(f"no unfinished push to resume in {tracking.path}")
    if record.status not in RESUMABLE:
        raise PushError(f"push {record.push_id} is {record.status}: nothing to resume")
    return record


def settle_push(options: PushOptions, endpoint: str, tracking: TrackingBackend) -> Setup:
    """Record the push about to run (new or resumed) and return what it runs on."""
    if options.resume:
        record = find_resumable(tracking, options, endpoint)
        options = options.resumed_with(record.options)
        mapping, files = load(options)
        return _resume(record, options, endpoint, tracking, mapping, files)
    mapping, files = load(options)
    key = source_key(options)
    running = tracking.latest_resumable(endpoint, key)
    if running is not None and running.status == "RUNNING" and _alive(running.pid):
        raise PushError(f"push {running.push_id} of these sources is running (pid "
                        f"{running.pid}); wait for it or stop it, then resume it")
    push_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    supersede(tracking, endpoint, key, keep=push_id)
    results_dir = options.results_dir or default_data_dir() / "results" / push_id
    tracking.create_push(PushRecord(
        push_id, endpoint, key, _sources(files, options), options.recorded(), "RUNNING",
        time.time(), pid=os.getpid(), results_dir=str(results_dir.resolve())))
    return Setup(push_id, endpoint, key, files, mapping, results_dir, False, options)


def _resume(record: PushRecord, options: PushOptions, endpoint: str,
            tracking: TrackingBackend,
            mapping: ItemMapping, files: list[FileInfo]) -> Setup:
    if record.endpoint != endpoint:
        raise PushError(f"push {record.push_id} went to {record.endpoint}, not {endpoint}")
    if record.status == "RUNNING" and record.pid != os.getpid() and _alive(record.pid):
        raise PushError(f"push {record.push_id} is still running (pid {record.pid})")
    if _sources(files, options) != record.sources:
        raise PushError(f"the sources or the mapping of push {record.push_id} changed since "
                        "it started: start a new push instead of resuming")
    tracking.update_push(record.push_id, status="RUNNING", pid=os.getpid(), finished_at=None)
    results_dir = Path(record.results_dir) if record.results_dir else (
        default_data_dir() / "results" / record.push_id)
    return Setup(record.push_id, endpoint, record.source_key, files, mapping, results_dir, True,
                 options)


def _sources(files: list[FileInfo], options: PushOptions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"path": str(f.path.resolve()), "sha256": f.sha256,
                                  "size": f.size} for f in files]
    if options.mapping_path is not None:
        digest = hashlib.sha256(options.mapping_path.read_bytes()).hexdigest()
        out.append({"path": str(options.mapping_path.resolve()), "sha256": digest,
                    "role": "mapping"})
    return out


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
