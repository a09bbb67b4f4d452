"""What a push is asked to do (PushOptions), what it reports as it goes, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog_ingest.client.push.chunking import DEFAULT_MAX_BODY
from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD
from catalog_ingest.errors import CatalogIngestError

if TYPE_CHECKING:
    from catalog_ingest.client.push.chunking import Chunk
    from catalog_ingest.client.push.outcome import Outcome
    from catalog_ingest.client.push.validate import Problem


#: Requests per second of the push's client (all kinds), the contract's per-retailer limit.
DEFAULT_RATE = 10.0


class PushError(CatalogIngestError):
    """The push cannot start or go on (a failure of the work: exit status 1)."""


@dataclass(frozen=True)
class NotifyOptions:
    """Wait for completion notifications: from an SQS queue, or on a local HTTP listener."""

    sqs_queue_url: str | None = None
    listen: str | None = None
    timeout: float = 3600.0
    #: With ``listen``: how long to wait, before the first upload, for the subscription's
    #: confirmation to arrive (one confirmed in an earlier push sends none).
    confirm_wait: float = 10.0


@dataclass(frozen=True)
class PushOptions:
    """One push's options; their defaults are the only ones (the CLI's options show these)."""

    sources: tuple[Path, ...] = ()
    mapping_path: Path | None = None
    store: str | None = None
    chunk_size: int = MAX_ITEMS_PER_UPLOAD
    max_body: int = DEFAULT_MAX_BODY
    concurrency: int = 4
    wait: bool = True
    notify: NotifyOptions | None = None
    results_dir: Path | None = None
    delta: bool = False
    archive_missing: bool = False
    force: bool = False
    source_name: str | None = None
    max_attempts: int = 8
    poll_initial: float = 0.5
    poll_max: float = 10.0
    #: Resume: True for the latest resumable push (of these sources), or a push id.
    resume: bool | str = False

    def recorded(self) -> dict[str, Any]:
        """The options a resumed push must reuse to plan the same chunks."""
        return {
            "sources": [str(p.resolve()) for p in self.sources],
            "mapping_path": str(self.mapping_path.resolve()) if self.mapping_path else None,
            "store": self.store, "chunk_size": self.chunk_size, "max_body": self.max_body,
            "delta": self.delta, "archive_missing": self.archive_missing, "force": self.force,
            "source_name": self.source_name,
        }

    def resumed_with(self, recorded: dict[str, Any]) -> PushOptions:
        """These options with the planning ones taken from a recorded push."""
        mapping = recorded.get("mapping_path")
        known = {f.name for f in fields(self)}
        planning = {k: v for k, v in recorded.items() if k in known
                    and k not in ("sources", "mapping_path")}
        return replace(self, sources=tuple(Path(p) for p in recorded.get("sources", ())),
                       mapping_path=Path(mapping) if mapping else None, **planning)


@dataclass
class PushResult:
    push_id: str
    status: str
    outcome: Outcome
    results_dir: Path
    resumed: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every item was accepted, 1 when anything was rejected or failed."""
        if self.outcome.failed:
            return 1
        return 0 if self.status in ("DONE", "SUBMITTED") else 1


@dataclass
class PushObserver:
    """Receives a push's progress; the default does nothing (the CLI draws a display)."""

    notes: list[str] = field(default_factory=list)

    def begin(self, push_id: str, total_bytes: int, resumed: bool) -> None: ...

    def rows_read(self, rows: int, done_bytes: int) -> None: ...

    def problem(self, problem: Problem) -> None: ...

    def chunk_planned(self, chunk: Chunk) -> None: ...

    def chunk_sent(self, chunk: Chunk, ingestion_id: str, replayed: bool) -> None: ...

    def chunk_failed(self, chunk: Chunk, message: str) -> None: ...

    def chunk_settled(self, chunk: Chunk, status: str, summary: dict[str, Any] | None
                      ) -> None: ...

    def note(self, message: str) -> None:
        self.notes.append(message)

    def end(self, result: PushResult) -> None: ...
