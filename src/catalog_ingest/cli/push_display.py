"""The push's terminal output (CLI only): a rich progress display, then the summary tables.

The SDK knows only the observer protocol (`client.push.options.PushObserver`); drawing on a
terminal is the command line's business, so rich stays out of the SDK package.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.options import PushObserver, PushResult
from catalog_ingest.client.push.outcome import CodeStats, Outcome, StoreCounts
from catalog_ingest.client.push.validate import Problem

SHOWN_PROBLEMS = 20
_COLUMNS = ("sent", "accepted", "rejected", "created", "updated", "unchanged", "invalid",
            "skipped_unchanged", "failed", "archived")
_HEADINGS = {"invalid": "invalid (local)", "skipped_unchanged": "unchanged (skipped)"}


class RichObserver(PushObserver):
    """Progress bars on a terminal (plain messages otherwise) and the first problems found."""

    def __init__(self, console: Console, show_progress: bool | None = None) -> None:
        super().__init__()
        self.console = console
        live = console.is_terminal if show_progress is None else show_progress
        self.progress = Progress(TextColumn("{task.description:<11}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[extra]}"),
                                 TimeElapsedColumn(), console=console, disable=not live,
                                 transient=False)
        self._reading: TaskID = self.progress.add_task("read", total=None, extra="rows")
        self._sending = self.progress.add_task("uploaded", total=None, extra="items")
        self._done = self.progress.add_task("processed", total=None, extra="items")
        self._shown = 0
        self._sent = 0

    def begin(self, push_id: str, total_bytes: int, resumed: bool) -> None:
        verb = "resuming" if resumed else "push"
        self.console.print(f"[bold]{verb} {push_id}[/bold]")
        self.progress.update(self._reading, total=total_bytes or None)
        self.progress.start()

    def rows_read(self, rows: int, done_bytes: int) -> None:
        self.progress.update(self._reading, completed=done_bytes, extra=f"{rows:,} rows")

    def problem(self, problem: Problem) -> None:
        if not problem.issue.is_error:
            return
        self._shown += 1
        if self._shown <= SHOWN_PROBLEMS:
            issue = problem.issue
            self.progress.console.print(f"[red]{problem.where}[/red] {issue.code} "
                                        f"{issue.field or ''}: {issue.message}", markup=True,
                                        highlight=False)
        elif self._shown == SHOWN_PROBLEMS + 1:
            self.progress.console.print("… more problems: see invalid-rows.csv")

    def chunk_sent(self, chunk: Chunk, ingestion_id: str, replayed: bool) -> None:
        if chunk.kind == "UPLOAD":
            self._sent += chunk.item_count
            self.progress.update(self._sending, completed=self._sent)
            self.progress.update(self._done, total=self._sent)

    def chunk_failed(self, chunk: Chunk, message: str) -> None:
        self.progress.console.print(f"[red]upload {chunk.seq} ({chunk.store_id or 'archive'}, "
                                    f"{chunk.item_count} items) failed:[/red] {message}")

    def chunk_settled(self, chunk: Chunk, status: str, summary: dict[str, Any] | None) -> None:
        if chunk.kind == "UPLOAD":
            self.progress.advance(self._done, chunk.item_count)

    def note(self, message: str) -> None:
        super().note(message)
        self.progress.console.print(f"[yellow]{message}[/yellow]")

    def end(self, result: PushResult) -> None:
        self.progress.stop()


def store_table(outcome: Outcome) -> Table:
    table = Table(title="Per store", title_justify="left")
    table.add_column("store")
    shown = [c for c in _COLUMNS if any(getattr(s, c) for s in outcome.stores.values())]
    for name in shown:
        table.add_column(_HEADINGS.get(name, name), justify="right")
    totals = outcome.totals()
    for store_id, counts in sorted(outcome.stores.items()):
        table.add_row(store_id, *_cells(counts, shown))
    if len(outcome.stores) > 1:
        table.add_row("[bold]all[/bold]", *_cells(totals, shown))
    return table


def _cells(counts: StoreCounts, shown: list[str]) -> list[str]:
    return [f"{getattr(counts, name):,}" for name in shown]


def issues_table(codes: list[CodeStats]) -> Table:
    table = Table(title="Most frequent issues", title_justify="left")
    for name in ("code", "severity", "found by", "count", "examples"):
        table.add_column(name, justify="right" if name == "count" else "left")
    for stats in codes:
        examples = "\n".join(f"{e['where']} {e.get('item_sku') or ''}: {e['message']}"
                             for e in stats.examples)
        table.add_row(stats.code, stats.severity, stats.origin, f"{stats.count:,}", examples)
    return table


def render_summary(result: PushResult, console: Console, *, issues: int = 10) -> None:
    outcome = result.outcome
    if outcome.stores:
        console.print(store_table(outcome))
    codes = outcome.top_codes(issues)
    if codes:
        console.print(issues_table(codes))
    for failure in outcome.chunk_failures:
        console.print(f"[red]upload {failure['seq']} ({failure['store_id'] or 'archive'}, "
                      f"{failure['items']} items) failed:[/red] {failure['error']}")
    if outcome.archive_skipped:
        console.print(f"[yellow]archive skipped:[/yellow] {outcome.archive_skipped}")
    chunks = outcome.chunks
    console.print(f"push {result.push_id}: {result.status}; uploads: {chunks['accepted']} "
                  f"accepted, {chunks['done']} done, {chunks['failed']} failed")
    console.print(f"results: {result.results_dir}")
    if result.status in ("INTERRUPTED", "INCOMPLETE", "SUBMITTED"):
        console.print("continue with: catalog-ingest push --resume")
