"""`catalog-ingest admin subscribe / unsubscribe / subscriptions / deliveries`: notifications."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from catalog_ingest.cli.common import DataDir, JsonOut, emit, run_work, services
from catalog_ingest.notify import subscriptions
from catalog_ingest.storage import notifications as repo


def subscribe(
    retailer_id: str,
    url: str | None = typer.Option(None, "--url", help="HTTP(S) endpoint (webhook)."),
    sqs_queue_url: str | None = typer.Option(None, "--sqs-queue-url", help="SQS queue URL."),
    sqs_endpoint_url: str | None = typer.Option(
        None, "--sqs-endpoint-url", help="SQS API endpoint (any SQS-compatible service)."),
    sqs_region: str | None = typer.Option(None, "--sqs-region", help="SQS region."),
    sqs_access_key_id: str | None = typer.Option(
        None, "--sqs-access-key-id",
        help="Credentials for the queue (default: the delivering process's AWS chain)."),
    sqs_secret_access_key: str | None = typer.Option(
        None, "--sqs-secret-access-key", envvar="CATALOG_INGEST_SQS_SECRET_ACCESS_KEY",
        help="Secret for --sqs-access-key-id (or CATALOG_INGEST_SQS_SECRET_ACCESS_KEY); "
             "stored sealed."),
    data_dir: Path | None = DataDir,
    as_json: bool = JsonOut,
) -> None:
    """Subscribe an HTTP(S) endpoint (confirmed via its SubscribeURL) or an SQS queue."""
    if (url is None) == (sqs_queue_url is None):
        raise typer.BadParameter("give exactly one of --url and --sqs-queue-url")
    if url is not None and (sqs_endpoint_url or sqs_region or sqs_access_key_id
                            or sqs_secret_access_key):
        raise typer.BadParameter("the --sqs-* options go with --sqs-queue-url")
    with services(data_dir) as svc:
        def create() -> repo.Subscription:
            with svc.db.write() as conn:
                if url is not None:
                    return subscriptions.subscribe_http(conn, retailer_id, url)
                assert sqs_queue_url is not None
                return subscriptions.subscribe_sqs(
                    conn, svc.settings.secret_key, retailer_id, sqs_queue_url,
                    endpoint_url=sqs_endpoint_url, region=sqs_region,
                    access_key_id=sqs_access_key_id, secret_access_key=sqs_secret_access_key)

        sub = run_work(create)
        emit(subscriptions.describe(svc.settings, sub), as_json)


def unsubscribe(subscription_id: str, data_dir: Path | None = DataDir,
                as_json: bool = JsonOut) -> None:
    """Delete a subscription: nothing more is sent to it."""
    with services(data_dir) as svc:
        def delete() -> repo.Subscription:
            with svc.db.write() as conn:
                return subscriptions.unsubscribe(conn, subscription_id)

        sub = run_work(delete)
        emit(subscriptions.describe(svc.settings, sub), as_json)


def list_subscriptions(retailer_id: str, data_dir: Path | None = DataDir,
                       as_json: bool = JsonOut) -> None:
    """A retailer's subscriptions (deleted ones included), oldest first."""
    with services(data_dir) as svc:
        with svc.db.read() as conn:
            subs = repo.list_subscriptions(conn, retailer_id)
        records = [subscriptions.describe(svc.settings, sub) for sub in subs]
    if as_json:
        typer.echo(json.dumps({"retailer_id": retailer_id, "subscriptions": records}))
        return
    for record in records:
        typer.echo(f"{record['subscription_id']}  {record['status']:<20}  {record['protocol']:<5}"
                   f"  {record['endpoint']}")


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


def deliveries(retailer_id: str,
               limit: int = typer.Option(50, "--limit", min=1, max=10_000,
                                         help="How many attempts, newest first."),
               data_dir: Path | None = DataDir, as_json: bool = JsonOut) -> None:
    """A retailer's notification delivery attempts and their outcomes, newest first."""
    with services(data_dir) as svc, svc.db.read() as conn:
        attempts = repo.list_attempts(conn, retailer_id, limit)
    records: list[dict[str, Any]] = [
        {"attempted_at": _iso(a.attempted_at), "message_id": a.message_id, "type": a.kind,
         "subscription_id": a.subscription_id, "ingestion_id": a.ingestion_id,
         "outcome": a.outcome, "detail": a.detail, "message_status": a.message_status,
         "message_attempts": a.attempts}
        for a in attempts
    ]
    if as_json:
        typer.echo(json.dumps({"retailer_id": retailer_id, "deliveries": records}))
        return
    for r in records:
        typer.echo(f"{r['attempted_at']}  {r['outcome']:<9}  {r['type']:<24}  {r['message_id']}"
                   f"  {r['ingestion_id'] or '-'}  {r['detail']}")


def register(app: typer.Typer) -> None:
    """Add the notification commands to the `admin` app."""
    app.command("subscribe")(subscribe)
    app.command("unsubscribe")(unsubscribe)
    app.command("subscriptions")(list_subscriptions)
    app.command("deliveries")(deliveries)

