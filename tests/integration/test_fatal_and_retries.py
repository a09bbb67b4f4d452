"""FATAL uploads apply nothing and say why; failed attempts are retried, then end FATAL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog_ingest.engine import planner, processor
from catalog_ingest.engine.reports import payload_key
from catalog_ingest.engine.worker import drain
from catalog_ingest.notify import outbox
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads
from catalog_ingest.storage.catalog import CatalogRepo
from tests.integration.oracle import catalog_barcodes, catalog_rows, download_report, submit
from tests.support.tenants import Tenant, item

S1, S2 = "store-01", "store-02"
ITEMS = [item("A", "012345678905", S1), item("B", "4006381333931", S2)]
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")


class Boom(RuntimeError):
    """The injected processing failure."""


def completions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(ingestion id, status) of every completion recorded, in order."""
    seen: list[tuple[str, str]] = []

    def record(conn: Any, retailer_id: str, ingestion_id: str, status: str,
               summary: dict[str, int] | None, now: float) -> None:
        seen.append((ingestion_id, status))

    monkeypatch.setattr(outbox, "record", record)
    return seen


def failing(real: Callable[..., Any], fails: Callable[[int], bool]) -> tuple[
        Callable[..., Any], list[int]]:
    """`real` wrapped to raise Boom on the calls (numbered from 1) that `fails` picks."""
    calls: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(calls) + 1)
        if fails(len(calls)):
            raise Boom(f"injected failure, call {len(calls)}")
        return real(*args, **kwargs)

    return wrapper, calls


def assert_fatal_report(doc: dict[str, Any], ingestion_id: str, received: int) -> dict[str, Any]:
    assert set(doc) == {"ingestionId", "processingStatus", "submittedAt", "startedAt",
                        "completedAt", "summary", "itemResults", "error"}
    assert (doc["ingestionId"], doc["processingStatus"], doc["itemResults"]) == (
        ingestion_id, "FATAL", [])
    assert doc["summary"] == {"itemsReceived": received, "itemsAccepted": 0, "itemsRejected": 0,
                              "itemsCreated": 0, "itemsUpdated": 0, "itemsUnchanged": 0,
                              "warnings": 0}
    error: dict[str, Any] = doc["error"]
    assert set(error) == {"code", "message"}
    assert UPPER_SNAKE.fullmatch(error["code"]) and error["message"]
    return error


def upload_row(svc: Runtime, ingestion_id: str) -> uploads.Upload:
    with svc.db.read() as conn:
        row = uploads.get_upload(conn, ingestion_id)
    assert row is not None
    return row


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_unreadable_payload_is_fatal_with_an_error_and_applies_nothing(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
        damage: str) -> None:
    seen = completions(monkeypatch)
    lost = submit(client, tenant, ITEMS)
    if damage == "deleted":
        svc.blobs.delete(payload_key(lost))
    else:
        svc.blobs.put(payload_key(lost), b'{"catalogItems": [{"item_sku": ')
    after = submit(client, tenant, ITEMS)
    assert drain(svc) == ["FATAL", "DONE"]
    assert_fatal_report(download_report(client, tenant, lost), lost, 2)
    assert upload_row(svc, lost).status == "FATAL"
    # Nothing of the FATAL upload was applied: the next one creates both items.
    actions = [r["action"] for r in download_report(client, tenant, after)["itemResults"]]
    assert actions == ["CREATED", "CREATED"]
    assert seen == [(lost, "FATAL"), (after, "DONE")]


def test_processing_that_always_fails_ends_fatal_after_max_attempts(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = completions(monkeypatch)
    wrapper, calls = failing(planner.plan_upload, lambda n: True)
    monkeypatch.setattr(processor, "plan_upload", wrapper)
    poisoned = submit(client, tenant, ITEMS)
    assert drain(svc) == ["FATAL"]
    assert len(calls) == svc.settings.max_attempts
    row = upload_row(svc, poisoned)
    assert (row.status, row.attempts) == ("FATAL", svc.settings.max_attempts)
    error = assert_fatal_report(download_report(client, tenant, poisoned), poisoned, 2)
    assert str(svc.settings.max_attempts) in error["message"]
    assert catalog_rows(svc, [S1, S2]) == {}
    assert seen == [(poisoned, "FATAL")]


def test_a_failure_after_partial_writes_rolls_back_and_a_fatal_upload_does_not_block_the_queue(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # insert_barcodes runs after the item rows are written in the same transaction.
    wrapper, calls = failing(CatalogRepo.insert_barcodes, lambda n: True)
    monkeypatch.setattr(CatalogRepo, "insert_barcodes", wrapper)
    poisoned = submit(client, tenant, ITEMS)
    assert drain(svc) == ["FATAL"]
    assert len(calls) == svc.settings.max_attempts
    assert catalog_rows(svc, [S1, S2]) == {}
    assert catalog_barcodes(svc, [S1, S2]) == {}
    monkeypatch.undo()
    later = submit(client, tenant, ITEMS)
    assert drain(svc) == ["DONE"]
    assert upload_row(svc, poisoned).status == "FATAL"
    assert [r["action"] for r in download_report(client, tenant, later)["itemResults"]] == [
        "CREATED", "CREATED"]


def test_one_failed_attempt_is_retried_and_the_upload_is_done_exactly_once(
        client: TestClient, svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = completions(monkeypatch)
    wrapper, calls = failing(CatalogRepo.insert_barcodes, lambda n: n == 1)
    monkeypatch.setattr(CatalogRepo, "insert_barcodes", wrapper)
    retried = submit(client, tenant, ITEMS)
    queued = submit(client, tenant, [item("C", "036000291452", S1)])
    assert drain(svc) == ["DONE", "DONE"]
    assert len(calls) == 3  # the failed attempt, its retry, the next upload
    row = upload_row(svc, retried)
    assert (row.status, row.attempts, row.error) == ("DONE", 1, None)
    # The failed attempt's item rows were rolled back: the retry creates them, once.
    doc = download_report(client, tenant, retried)
    assert [r["action"] for r in doc["itemResults"]] == ["CREATED", "CREATED"]
    assert doc["summary"]["itemsCreated"] == 2
    assert set(catalog_rows(svc, [S1, S2])) == {(S1, "A"), (S2, "B"), (S1, "C")}
    assert seen == [(retried, "DONE"), (queued, "DONE")]
    assert drain(svc) == []
