"""The retailer side of the CLI: push, validate, status, report, history."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from catalog_ingest.cli.common import JsonOut, emit, run_work
from catalog_ingest.cli.push_display import RichObserver, issues_table, render_summary
from catalog_ingest.client import AsyncCatalogClient, CatalogClient, CredentialsNotFound
from catalog_ingest.client.push import (
    IDENTITY,
    NotifyOptions,
    Push,
    PushError,
    PushOptions,
    PushResult,
    Tracking,
    TrackingBackend,
    TrackingError,
    default_path,
    load_mapping,
)
from catalog_ingest.client.push.chunking import Chunk
from catalog_ingest.client.push.mapping import ItemMapping
from catalog_ingest.client.push.options import DEFAULT_RATE
from catalog_ingest.client.push.outcome import Outcome
from catalog_ingest.client.push.setup import find_resumable
from catalog_ingest.client.push.sources import SourceError, inspect
from catalog_ingest.client.push.validate import Problem, SourceValidator, check_rows
from catalog_ingest.domain.issues import Issue, error
from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD
from catalog_ingest.errors import CatalogIngestError, ConfigurationError

Endpoint = typer.Option(None, "--endpoint", envvar="CATALOG_INGEST_ENDPOINT",
                        help="API base URL (CATALOG_INGEST_ENDPOINT).")
Region = typer.Option(None, "--region", help="SigV4 region (AWS_REGION; default us-east-1).")
Profile = typer.Option(None, "--profile", help="AWS profile of the credentials (AWS_PROFILE).")
TrackingDb = typer.Option(None, "--tracking-db", envvar="CATALOG_INGEST_TRACKING_DB",
                          help="Tracking database (default: the user's data directory).")
TrackingTable = typer.Option(None, "--tracking-table", envvar="CATALOG_INGEST_TRACKING_TABLE",
                             help="Read the DynamoDB tracking table of the Lambda integration "
                                  "instead (CATALOG_INGEST_TRACKING_TABLE; AWS_REGION).")
MappingOpt = typer.Option(None, "--mapping", exists=True, dir_okay=False,
                          help="TOML file mapping source columns to API fields.")
StoreOpt = typer.Option(None, "--store", help="store_id for every row (overrides the source).")
#: The push's defaults are PushOptions' (declared once, in the SDK); the options show them.
DEFAULTS = PushOptions()
Files = typer.Argument(None, exists=True, dir_okay=False, readable=True,
                       help="CSV, JSON, JSON Lines or Excel (.xlsx/.xlsm) files.")


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def _tracking(path: Path | None) -> Iterator[Tracking]:
    tracking = run_work(lambda: Tracking(path or default_path()))
    try:
        yield tracking
    finally:
        tracking.close()


def _mapping(path: Path | None, store: str | None) -> ItemMapping:
    try:
        mapping = load_mapping(path) if path else IDENTITY
    except ConfigurationError as exc:
        raise _usage(str(exc)) from None
    return mapping.with_store(store)


# --- push ----------------------------------------------------------------------------------------


def push(
    files: list[Path] | None = Files,
    mapping: Path | None = MappingOpt,
    store: str | None = StoreOpt,
    wait: bool = typer.Option(DEFAULTS.wait, "--wait/--no-wait",
                              help="Wait for processing and reports "
                              "(`--wait notify` is short for --wait-mode notify)."),
    wait_mode: str = typer.Option("poll", "--wait-mode", help="How to wait: poll, or notify "
                                  "(SNS notifications; see --sqs-queue-url / --listen)."),
    results_dir: Path | None = typer.Option(None, "--results-dir", file_okay=False,
                                            help="Where reports and summaries go."),
    endpoint: str | None = Endpoint,
    region: str | None = Region,
    profile: str | None = Profile,
    tracking_db: Path | None = TrackingDb,
    delta: bool = typer.Option(False, "--delta", help="Send only items changed since the last "
                               "push of this source to this endpoint."),
    archive_missing: bool = typer.Option(False, "--archive-missing",
                                         help="Archive SKUs gone from the source."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted push."),
    push_id: str | None = typer.Option(None, "--push-id", help="The push --resume continues."),
    force: bool = typer.Option(False, "--force", help="Upload again even chunks already "
                               "uploaded in the last 24 h (fresh Idempotency-Keys)."),
    source_name: str | None = typer.Option(None, "--source-name", help="Name of the source for "
                                           "--delta/--resume (default: the file paths)."),
    rate: float = typer.Option(DEFAULT_RATE, "--rate", min=0.01,
                               help="Requests per second (all kinds)."),
    concurrency: int = typer.Option(DEFAULTS.concurrency, "--concurrency", min=1, max=64,
                                    help="Uploads in flight at once (different stores)."),
    chunk_size: int = typer.Option(DEFAULTS.chunk_size, "--chunk-size", min=1,
                                   max=MAX_ITEMS_PER_UPLOAD),
    max_body_bytes: int = typer.Option(DEFAULTS.max_body, "--max-body-bytes", min=4096),
    max_attempts: int = typer.Option(DEFAULTS.max_attempts, "--max-attempts", min=1,
                                     help="Attempts per request on throttling / retryable errors."),
    notify_sqs: str | None = typer.Option(None, "--sqs-queue-url", "--notify-sqs",
                                          help="With --wait notify: the SQS queue URL the "
                                          "notifications arrive on."),
    notify_listen: str | None = typer.Option(None, "--listen", "--notify-listen",
                                             help="With --wait notify: HOST:PORT of a local "
                                             "HTTP subscriber to run."),
    notify_timeout: float = typer.Option(NotifyOptions().timeout, "--notify-timeout", min=1),
    notify_confirm_wait: float = typer.Option(
        NotifyOptions().confirm_wait, "--notify-confirm-wait", min=0,
        help="With --listen: seconds to wait before the first upload for the subscription's "
        "confirmation (one confirmed before sends none)."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress"),
    as_json: bool = JsonOut,
) -> None:
    """Push catalog files: map, validate, upload in chunks, wait, fetch reports, summarise."""
    if not files and not resume:
        raise _usage("give the files to push (or --resume)")
    if wait_mode not in ("poll", "notify"):
        raise _usage("--wait takes poll or notify")
    if notify_sqs and notify_listen:
        raise _usage("--sqs-queue-url and --listen exclude each other")
    if wait_mode == "notify" and not (notify_sqs or notify_listen):
        raise _usage("--wait notify needs --sqs-queue-url URL or --listen HOST:PORT")
    notify = (NotifyOptions(notify_sqs, notify_listen, notify_timeout, notify_confirm_wait)
              if notify_sqs or notify_listen else None)
    options = PushOptions(
        sources=tuple(files or ()), mapping_path=mapping, store=store, chunk_size=chunk_size,
        max_body=max_body_bytes, concurrency=concurrency, wait=wait, notify=notify,
        results_dir=results_dir, delta=delta, archive_missing=archive_missing, force=force,
        source_name=source_name, max_attempts=max_attempts,
        resume=(push_id or True) if resume else False)
    if not resume:
        _mapping(mapping, store)  # bad usage is exit 2, before anything is recorded
    with _tracking(tracking_db) as tracking:
        if resume:
            endpoint = endpoint or run_work(lambda: find_resumable(tracking, options,
                                                                   endpoint)).endpoint
        if not endpoint:
            raise _usage("no endpoint: give --endpoint or set CATALOG_INGEST_ENDPOINT")
        client = _async_client(endpoint, region, profile, rate, max_attempts)
        console = Console(stderr=True)
        observer = RichObserver(console, progress)
        result = _run_push(Push(options, client, tracking, observer), client)
    _print_result(result, as_json)
    raise typer.Exit(result.exit_code)


def _async_client(endpoint: str, region: str | None, profile: str | None,
                  rate: float, max_attempts: int) -> AsyncCatalogClient:
    try:
        # The push's calls retry by its own policy (the same --max-attempts), recording every
        # attempt through the SDK retry's hook.
        return AsyncCatalogClient(endpoint, region=region, profile=profile, rate_limit=rate,
                                  max_attempts=max_attempts)
    except (CredentialsNotFound, ValueError) as exc:
        raise _usage(str(exc)) from None


def _run_push(job: Push, client: AsyncCatalogClient) -> PushResult:
    async def main() -> PushResult:
        try:
            return await job.run()
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        typer.echo("\ninterrupted: continue with `catalog-ingest push --resume`", err=True)
        raise typer.Exit(130) from None
    except (PushError, SourceError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ConfigurationError as exc:
        raise _usage(str(exc)) from None
    except CatalogIngestError as exc:
        typer.echo(f"error: {exc}\nthe push can be continued with "
                   "`catalog-ingest push --resume`", err=True)
        raise typer.Exit(1) from None


def _print_result(result: PushResult, as_json: bool) -> None:
    if as_json:
        summary = {"pushId": result.push_id, "status": result.status,
                   "resultsDir": str(result.results_dir), **result.outcome.to_dict()}
        typer.echo(json.dumps(summary))
    else:
        render_summary(result, Console())


# --- validate ------------------------------------------------------------------------------------


def validate(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                       help="CSV, JSON, JSON Lines or Excel (.xlsx/.xlsm) files."),
    mapping: Path | None = MappingOpt,
    store: str | None = StoreOpt,
    warnings: bool = typer.Option(False, "--warnings", help="Print warnings too."),
    as_json: bool = JsonOut,
) -> None:
    """Validate files locally with the service's rules (no network); every problem by file:line."""
    item_mapping = _mapping(mapping, store)
    problems: list[dict[str, Any]] = []
    outcome = Outcome()
    rows = invalid = 0
    # One cross-item state for all the files, as `push` has: a SKU or barcode repeated in a
    # later file is found too. In memory (push keeps it on disk, which made a 10k-row
    # `validate` 0.38 -> 0.48 s): `validate` sends nothing, and stays the fast offline check.
    validator = SourceValidator()
    for info in _inspect_all(files, item_mapping):
        try:
            for checked in check_rows([info], item_mapping, validator):
                rows += 1
                invalid += 0 if checked.valid else 1
                for problem in checked.problems():
                    _validate_problem(problem, outcome, problems, warnings, as_json)
        except SourceError as exc:
            invalid += 1
            problem = Problem(exc.file, exc.line or 0, None, None, _source_issue(exc))
            _validate_problem(problem, outcome, problems, warnings, as_json)
    if as_json:
        typer.echo(json.dumps({"rows": rows, "invalid": invalid, "problems": problems,
                               "issues": [_code_dict(c) for c in outcome.top_codes(1000)]}))
    else:
        console = Console()
        if outcome.codes:
            console.print(issues_table(outcome.top_codes()))
        console.print(f"{rows:,} rows, {invalid:,} invalid")
    raise typer.Exit(1 if invalid else 0)


def _inspect_all(files: list[Path], mapping: ItemMapping) -> Iterator[Any]:
    for path in files:
        try:
            yield inspect(path, mapping.source)
        except SourceError as exc:
            raise _usage(str(exc)) from None


def _source_issue(exc: SourceError) -> Issue:
    return error(exc.code, None, exc.reason)


def _validate_problem(problem: Problem, outcome: Outcome, problems: list[dict[str, Any]],
                      warnings: bool, as_json: bool) -> None:
    outcome.add_problem(problem)
    if not problem.issue.is_error and not warnings:
        return
    if as_json:
        problems.append(problem.to_dict())
        return
    issue = problem.issue
    who = f" [{problem.store_id}/{problem.item_sku}]" if problem.item_sku else ""
    typer.echo(f"{problem.where}: {issue.severity} {issue.code} {issue.field or '-'}: "
               f"{issue.message}{who}")


def _code_dict(stats: Any) -> dict[str, Any]:
    return {"code": stats.code, "severity": stats.severity, "count": stats.count,
            "examples": stats.examples}


# --- status, report, history ---------------------------------------------------------------------


def _sync_client(ingestion_id: str, endpoint: str | None, region: str | None,
                 profile: str | None, tracking: Tracking) -> tuple[CatalogClient, dict[str, Any]]:
    local: dict[str, Any] = {}
    found = tracking.find_ingestion(ingestion_id)
    if found is not None:
        push_record, chunk = found
        endpoint = endpoint or push_record.endpoint
        local = {"push_id": push_record.push_id, "chunk": chunk.seq, "store_id": chunk.store_id,
                 "items": chunk.item_count, "rows": f"{chunk.first_row} … {chunk.last_row}",
                 "local_status": chunk.status, "report_path": chunk.report_path}
    if not endpoint:
        raise _usage("no endpoint: give --endpoint or set CATALOG_INGEST_ENDPOINT")
    try:
        return CatalogClient(endpoint, region=region, profile=profile), local
    except (CredentialsNotFound, ValueError) as exc:
        raise _usage(str(exc)) from None


def status(
    ingestion_id: str,
    endpoint: str | None = Endpoint,
    region: str | None = Region,
    profile: str | None = Profile,
    tracking_db: Path | None = TrackingDb,
    as_json: bool = JsonOut,
) -> None:
    """One upload's status, from the service (and what the tracking database knows of it)."""
    with _tracking(tracking_db) as tracking:
        client, local = _sync_client(ingestion_id, endpoint, region, profile, tracking)
    with client:
        answer = run_work(lambda: client.get_status(ingestion_id))
    emit({"ingestion_id": ingestion_id, "processing_status": answer.processing_status,
          "report_download_link": answer.report_download_link, **local}, as_json)


def report(
    ingestion_id: str,
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False,
                                       help="Where to save the report (default ./<id>.json)."),
    endpoint: str | None = Endpoint,
    region: str | None = Region,
    profile: str | None = Profile,
    tracking_db: Path | None = TrackingDb,
    as_json: bool = JsonOut,
) -> None:
    """Download an upload's report (with a fresh link) and summarise it."""
    with _tracking(tracking_db) as tracking:
        client, _ = _sync_client(ingestion_id, endpoint, region, profile, tracking)
    with client:
        answer = run_work(lambda: client.get_status(ingestion_id))
        if not answer.report_url:
            typer.echo(f"error: upload {ingestion_id} is {answer.processing_status}: "
                       "it has no report (yet)", err=True)
            raise typer.Exit(1)
        document = run_work(lambda: client.download_report(answer.report_download_link))
    path = output or Path(f"{ingestion_id}.json")
    path.write_text(json.dumps(document, indent=1))
    outcome = Outcome()
    chunk = Chunk(0, "UPLOAD", None, b"", "", len(document.get("itemResults") or ()))
    outcome.add_report(chunk, document, [], ingestion_id)
    summary = document.get("summary") or {}
    if as_json:
        typer.echo(json.dumps({"ingestionId": ingestion_id, "saved": str(path),
                               "processingStatus": document.get("processingStatus"),
                               "summary": summary, **outcome.to_dict()}))
        return
    console = Console()
    console.print(f"{ingestion_id}: {document.get('processingStatus')}, saved to {path}")
    console.print(", ".join(f"{k} {v}" for k, v in summary.items()))
    if outcome.codes:
        console.print(issues_table(outcome.top_codes()))


@contextmanager
def _any_tracking(path: Path | None, table: str | None) -> Iterator[TrackingBackend]:
    """The SQLite tracking database, or the Lambda integration's DynamoDB table."""
    if table is None:
        with _tracking(path) as tracking:
            yield tracking
        return
    from catalog_ingest.client.aws.dynamodb import DynamoTracking

    try:
        yield DynamoTracking(table, _dynamodb_client())
    except TrackingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _dynamodb_client() -> Any:
    import boto3

    from catalog_ingest.client._client import default_region

    return boto3.client("dynamodb", region_name=default_region(None))


def history(
    push_id: str | None = typer.Argument(None, help="Show this push's uploads."),
    limit: int = typer.Option(20, "--limit", min=1),
    tracking_db: Path | None = TrackingDb,
    tracking_table: str | None = TrackingTable,
    as_json: bool = JsonOut,
) -> None:
    """The tracking database (or DynamoDB table): pushes, their uploads and outcomes."""
    with _any_tracking(tracking_db, tracking_table) as tracking:
        if push_id is None:
            records = [vars(p) for p in tracking.pushes(limit)]
            for row in records:
                row["files"] = ", ".join(Path(s["path"]).name for s in row["sources"]
                                         if s.get("role") != "mapping")
            _print_records(records, ["push_id", "status", "started_at", "files", "rows_read",
                                     "rows_invalid"], as_json, "pushes")
            return
        record = tracking.push(push_id)
        if record is None:
            typer.echo(f"error: no push {push_id} in {tracking.path}", err=True)
            raise typer.Exit(1)
        chunks = []
        for chunk in tracking.chunks(push_id):
            row = vars(chunk)
            row["attempts"] = len(tracking.attempts(push_id, chunk.seq))
            chunks.append(row)
    if as_json:
        typer.echo(json.dumps({**vars(record), "chunks": chunks}, default=str))
        return
    emit({k: v for k, v in vars(record).items() if k not in ("summary", "options")}, False)
    _print_records(chunks, ["seq", "kind", "store_id", "item_count", "status", "attempts",
                            "ingestion_id", "first_row", "error"], False, "uploads")


def _print_records(records: list[dict[str, Any]], columns: list[str], as_json: bool,
                   title: str) -> None:
    if as_json:
        typer.echo(json.dumps({title: records}, default=str))
        return
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name)
    for record in records:
        table.add_row(*(_cell(name, record.get(name)) for name in columns))
    Console().print(table)


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name.endswith("_at") and isinstance(value, float):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return str(value)
