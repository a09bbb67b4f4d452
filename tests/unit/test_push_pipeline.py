"""The push pipeline against the service in-process (ASGI app + a worker thread), with faults
injected by a wrapping transport: chunking, reports, re-runs, delta, archive, retries, resume."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from tests.support.push_observers import CancelAfter
from tests.support.tenants import Tenant, make_tenant

from catalog_ingest.app import create_app
from catalog_ingest.client import AsyncCatalogClient
from catalog_ingest.client.push import Push, PushObserver, PushOptions, PushResult, Tracking
from catalog_ingest.client.push.chunking import ChunkPlanner, half_seq, idempotency_key
from catalog_ingest.client.push.mapping import IDENTITY
from catalog_ingest.client.push.sources import inspect
from catalog_ingest.client.push.tracking import TrackingError
from catalog_ingest.client.push.tracking_schema import SCHEMA_V1, SCHEMA_VERSION
from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import Worker
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings

ENDPOINT = "http://testserver"
RETRY_500 = {"errorMsg": "Exception encountered while processing the request, please retry again."}
FATAL_500 = {"errorMsg": "Exception encountered while processing the request"}
HEADER = ["item_sku", "external_product_id", "item_name", "store_id", "standard_price"]


def ean(n: int) -> str:
    body = f"40{n:010d}"
    return body + str(gs1_check_digit(body))


def write_catalog(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def catalog_rows(n: int, stores: tuple[str, ...] = ("s1", "s2"), price: str = "1.50",
                 bad: tuple[int, ...] = ()) -> list[list[str]]:
    """Rows SKU-i with unique valid barcodes; rows in ``bad`` get a wrong check digit."""
    rows = []
    for i in range(n):
        code = ean(i)
        if i in bad:
            code = code[:-1] + str((int(code[-1]) + 1) % 10)
        rows.append([f"SKU-{i:04d}", code, f"Item {i}", stores[i % len(stores)], price])
    return rows


Action = Callable[[httpx.Request], httpx.Response | Exception | None]


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to the app; ``before`` may answer instead, ``after`` may lose the answer."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.before: list[tuple[str, Action]] = []
        self.after: list[tuple[str, Action]] = []
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for rules, forward in ((self.before, False), (self.after, True)):
            if forward:
                response = await self.inner.handle_async_request(request)
                await response.aread()
            for n, (prefix, action) in enumerate(rules):
                if path.startswith(prefix) and (outcome := action(request)) is not None:
                    del rules[n]
                    if isinstance(outcome, Exception):
                        raise outcome
                    self.seen.append((path, outcome.status_code))
                    return outcome
        self.seen.append((path, response.status_code))
        return response


@dataclass
class Env:
    svc: Runtime
    tenant: Tenant
    app: Any
    tmp: Path
    tracking: Tracking
    transport: FaultyTransport
    delays: list[float] = field(default_factory=list)

    def client(self) -> AsyncCatalogClient:
        return AsyncCatalogClient(ENDPOINT, access_key=self.tenant.access_key_id,
                                  secret_key=self.tenant.secret_access_key,
                                  transport=self.transport, rate_limit=None, max_attempts=1,
                                  sleep=self._sleep, jitter=lambda: 1.0)

    async def _sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(min(delay, 0.01))

    def push(self, *files: Path, observer: PushObserver | None = None, **options: Any
             ) -> PushResult:
        opts = PushOptions(sources=files, results_dir=options.pop("results_dir", None)
                           or self.tmp / "results", poll_initial=0.01, poll_max=0.05, **options)

        async def run() -> PushResult:
            async with self.client() as client:
                return await Push(opts, client, self.tracking, observer,
                                  sleep=self._sleep).run()

        return asyncio.run(run())

    def uploads(self) -> list[Any]:
        async def listing() -> list[Any]:
            async with self.client() as client:
                return [u async for u in client.iter_uploads(page_size=100)]

        return asyncio.run(listing())

    def items(self, store: str, skus: list[str]) -> dict[str, Any]:
        async def get() -> dict[str, Any]:
            async with self.client() as client:
                return {i.item_sku: i for i in await client.get_items(store, skus)}

        return asyncio.run(get())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # No server-side throttling here (the test's sleeps are cut short); 429s are injected.
    settings = Settings(data_dir=tmp_path / "data", secret_key=b"pipeline-test-secret-0123456789ab",
                        poll_interval=0.05, rate_limit="100000/second")
    svc = open_runtime(settings)
    tenant = make_tenant(svc, "Retailer", ["s1", "s2"])
    app = create_app(settings, runtime=svc)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(svc).run, args=(stop,), daemon=True)
    worker.start()
    tracking = Tracking(tmp_path / "tracking.db")
    yield Env(svc, tenant, app, tmp_path, tracking, FaultyTransport(app))
    stop.set()
    svc.wake.set()
    worker.join(timeout=30)
    tracking.close()
    svc.close()


def report_files(result: PushResult) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(result.results_dir.glob("0*.json"))]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_push_chunks_per_store_and_counts_every_report(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(30, bad=(4, 11)))
    result = env.push(source, chunk_size=6)
    assert (result.status, result.exit_code) == ("DONE", 1)
    stores = result.outcome.stores
    assert (stores["s1"].invalid, stores["s1"].sent, stores["s1"].created) == (1, 14, 14)
    assert (stores["s2"].invalid, stores["s2"].sent, stores["s2"].created) == (1, 14, 14)
    chunks = env.tracking.chunks(result.push_id)
    # Rows alternate between the stores: each store's chunk fills up in turn.
    assert [(c.store_id, c.item_count) for c in chunks] == [
        ("s1", 6), ("s2", 6), ("s1", 6), ("s2", 6), ("s1", 2), ("s2", 2)]
    assert all(c.status == "DONE" and c.ingestion_id for c in chunks)
    reports = report_files(result)
    assert [len(r["itemResults"]) for r in reports] == [c.item_count for c in chunks]
    # Source order is kept within each store.
    skus = {s: [r["item_sku"] for rep in reports for r in rep["itemResults"] if r["store_id"] == s]
            for s in ("s1", "s2")}
    assert skus["s1"] == sorted(skus["s1"]) and skus["s2"] == sorted(skus["s2"])
    assert sorted(u.ingestion_id for u in env.uploads()) == sorted(c.ingestion_id for c in chunks)
    invalid = read_csv(result.results_dir / "invalid-rows.csv")
    assert [(r["line"], r["item_sku"], r["code"]) for r in invalid] == [
        ("6", "SKU-0004", "INVALID_CHECK_DIGIT"), ("13", "SKU-0011", "INVALID_CHECK_DIGIT")]
    summary = json.loads((result.results_dir / "summary.json").read_text())
    assert summary["totals"]["accepted"] == 28 and summary["failed"] is True


def test_locally_valid_rows_are_all_accepted_and_rejections_are_located(env: Env) -> None:
    async def seed() -> None:
        async with env.client() as client:
            await client.upload([{"item_sku": "OTHER", "external_product_id": ean(3),
                                  "item_name": "Holder", "store_id": "s2"}])

    asyncio.run(seed())
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(8, stores=("s2",)))
    result = env.push(source)
    counts = result.outcome.stores["s2"]
    assert (counts.sent, counts.accepted, counts.rejected) == (8, 7, 1)
    rejected = read_csv(result.results_dir / "rejected-items.csv")
    assert [(r["where"], r["item_sku"], r["code"]) for r in rejected] == [
        (f"{source}:5", "SKU-0003", "BARCODE_CONFLICT")]
    top = result.outcome.top_codes()
    assert (top[0].origin, top[0].code, top[0].count) == ("service", "BARCODE_CONFLICT", 1)


def test_a_rerun_replays_the_same_uploads_and_force_sends_again(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(10))
    first = env.push(source, chunk_size=4)
    second = env.push(source, chunk_size=4)
    ids = [[c.ingestion_id for c in env.tracking.chunks(r.push_id)] for r in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 4
    assert len(env.uploads()) == 4
    planned = next(ChunkPlanner([inspect(source)], IDENTITY, PushObserver(), chunk_size=4)
                   .chunks())
    first_key = env.tracking.chunks(first.push_id)[0].idempotency_key
    assert first_key == idempotency_key(ENDPOINT, planned.body)
    forced = env.push(source, chunk_size=4, force=True)
    assert len(env.uploads()) == 8
    assert (forced.exit_code, forced.outcome.totals().unchanged) == (0, 10)


def test_delta_sends_changes_only_and_archive_missing_archives_what_left(env: Env) -> None:
    rows = catalog_rows(12)
    rows.append(["SKU-0000", ean(100), "Item 0 in s2", "s2", "1.50"])
    source = write_catalog(env.tmp / "cat.csv", rows)
    assert env.push(source, delta=True).outcome.totals().created == 13
    rows[1][2] = "Renamed"
    rows[2][4] = "9.99"
    del rows[5:7]  # SKU-0005 (s2) and SKU-0006 (s1) leave the source
    rows.pop()  # SKU-0000 leaves s2 but stays in s1: the API cannot archive it in s2 only
    write_catalog(source, rows)
    observer = PushObserver()
    result = env.push(source, delta=True, archive_missing=True, observer=observer)
    totals = result.outcome.totals()
    assert (totals.sent, totals.updated, totals.skipped_unchanged, totals.archived) == (2, 2, 8, 2)
    assert any("left some stores but not all" in note for note in observer.notes)
    s1, s2 = env.items("s1", ["SKU-0006", "SKU-0000"]), env.items("s2", ["SKU-0005", "SKU-0001"])
    assert s1["SKU-0006"].status == s2["SKU-0005"].status == "ARCHIVED"
    assert s1["SKU-0000"].active and s2["SKU-0001"].item_name == "Renamed"
    again = env.push(source, delta=True, archive_missing=True)
    assert (again.outcome.totals().sent, again.outcome.chunks["planned"]) == (0, 0)


def test_throttling_retryable_errors_and_lost_answers_are_absorbed(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(9, stores=("s1",)))
    faults = env.transport
    faults.before += [
        ("/v1/catalog/upload", lambda r: httpx.Response(429, json={"message": "Too Many Requests"},
                                                        headers={"retry-after": "3"})),
        ("/v1/catalog/upload", lambda r: httpx.Response(500, json=RETRY_500)),
        ("/v1/catalog/getCatalogUploadStatus", lambda r: httpx.Response(500, json=RETRY_500)),
        ("/v1/reports/", lambda r: httpx.Response(403, json={"message": "Link expired"})),
    ]
    faults.after.append(("/v1/catalog/upload", lambda r: httpx.ReadError("connection reset")))
    result = env.push(source, chunk_size=3)
    assert (result.status, result.exit_code) == ("DONE", 0)
    assert not faults.before and not faults.after
    chunks = env.tracking.chunks(result.push_id)
    outcomes = [[a["outcome"] for a in env.tracking.attempts(result.push_id, c.seq)]
                for c in chunks]
    assert outcomes == [["Throttled", "RetryableServerError", "ConnectionFailed", "ACCEPTED"],
                        ["ACCEPTED"], ["ACCEPTED"]]
    assert 3 in env.delays  # never sooner than Retry-After
    assert len(env.uploads()) == 3  # the lost 201 was replayed, not uploaded twice
    assert result.outcome.totals().created == 9


def test_a_failed_chunk_fails_the_push_and_resume_sends_it(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(6, stores=("s1",)))
    env.transport.before.append(("/v1/catalog/upload",
                                 lambda r: httpx.Response(500, json=FATAL_500)))
    failed = env.push(source, chunk_size=2)
    assert (failed.status, failed.exit_code) == ("INCOMPLETE", 1)
    assert failed.outcome.chunk_failures[0]["seq"] == 1
    assert [c.status for c in env.tracking.chunks(failed.push_id)] == ["FAILED", "DONE", "DONE"]
    resumed = env.push(resume=True)
    assert (resumed.push_id, resumed.status, resumed.exit_code) == (failed.push_id, "DONE", 0)
    assert resumed.outcome.totals().created == 6
    assert len(env.uploads()) == 3


def test_an_upload_the_service_does_not_know_is_sent_again_on_resume(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(4, stores=("s1",)))
    env.transport.before.append(("/v1/catalog/getCatalogUploadStatus", lambda r: httpx.Response(
        400, json={"errorMsg": "API invoked with Invalid parameter"})))
    lost = env.push(source)
    assert (lost.status, lost.exit_code) == ("INCOMPLETE", 1)
    (chunk,) = env.tracking.chunks(lost.push_id)
    assert (chunk.status, chunk.ingestion_id) == ("FAILED", None)
    assert "unknown to the service" in (chunk.error or "")
    resumed = env.push(resume=True)
    assert (resumed.status, resumed.outcome.totals().created) == ("DONE", 4)
    assert len(env.uploads()) == 1  # sent again with the same key: the same upload


def test_an_interrupted_push_resumes_without_sending_anything_twice(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(20))
    with pytest.raises(asyncio.CancelledError):
        env.push(source, chunk_size=3, concurrency=1, observer=CancelAfter(3))
    interrupted = env.tracking.pushes(1)[0]
    assert interrupted.status == "INTERRUPTED"
    sent = [c for c in env.tracking.chunks(interrupted.push_id) if c.ingestion_id]
    assert 3 <= len(sent) < 8
    resumed = env.push(resume=True)
    chunks = env.tracking.chunks(interrupted.push_id)
    assert (resumed.status, len(chunks)) == ("DONE", 8)
    assert all(c.status == "DONE" for c in chunks)
    assert sorted(u.ingestion_id for u in env.uploads()) == sorted(c.ingestion_id for c in chunks)
    assert resumed.outcome.totals().created == 20 and resumed.outcome.chunks["done"] == 8


def test_no_wait_then_resume_collects_the_reports(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(5))
    submitted = env.push(source, wait=False)
    assert (submitted.status, submitted.exit_code) == ("SUBMITTED", 0)
    assert report_files(submitted) == []
    done = env.push(source, resume=True)
    assert done.status == "DONE" and done.outcome.totals().created == 5
    assert len(report_files(done)) == 2


def test_an_unknown_store_fails_only_its_own_chunks(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(6, stores=("s1", "nowhere")))
    result = env.push(source)
    assert result.exit_code == 1
    assert [(c.store_id, c.status) for c in env.tracking.chunks(result.push_id)] == [
        ("nowhere", "FAILED"), ("s1", "DONE")]
    assert "StoreID" in (result.outcome.chunk_failures[0]["error"])
    assert result.outcome.stores["nowhere"].failed == 3


def test_planner_keeps_bodies_under_the_size_cap(tmp_path: Path) -> None:
    items = [{"item_sku": f"S-{i}", "external_product_id": ean(i), "item_name": "x" * 200,
              "store_id": "s1"} for i in range(50)]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items))
    planner = ChunkPlanner([inspect(path)], IDENTITY, PushObserver(), max_body=2000)
    chunks = list(planner.chunks())
    assert all(len(c.body) <= 2000 for c in chunks) and len(chunks) > 5
    decoded = [i for c in chunks for i in msgspec.json.decode(c.body)["catalogItems"]]
    assert [i["item_sku"] for i in decoded] == [i["item_sku"] for i in items]
    assert chunks[1].row(0, [str(path)]) == (str(path), 1 + chunks[0].item_count)


def test_tracking_refuses_a_schema_it_does_not_know(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "t.db"
    Tracking(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(TrackingError, match="schema version"):
        Tracking(path)


def test_a_v1_tracking_database_is_upgraded_and_its_staged_rows_still_merge(
        tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "t.db"
    with sqlite3.connect(path) as db:  # what version 1 created, with a push cut short
        db.executescript(SCHEMA_V1)
        db.execute("PRAGMA user_version=1")
        db.executemany("INSERT INTO staged_hashes VALUES (?, ?, ?, ?)",
                       [("p", "s1", "A", b"a" * 16), ("p", "s1", "B", b"b" * 16),
                        ("p", "s1", "C", None)])
        db.execute("INSERT INTO item_hashes VALUES ('e', 'k', 's1', 'C', ?, 'old')",
                   [b"c" * 16])
    tracking = Tracking(path)
    try:
        assert tracking._run("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        tracking.stage("p", [("s1", "B", b"B" * 16), ("s1", "D", b"d" * 16)])  # resumed
        tracking.stage("p", [("s1", "D", None)])
        tracking.merge_staged("p", "e", "k")
        assert tracking.known_hashes("e", "k", "s1", ["A", "B", "C", "D"]) == {
            "A": b"a" * 16, "B": b"B" * 16}
        assert tracking._run("SELECT COUNT(*) FROM staged_chunks").fetchone()[0] == 0
        assert tracking._run("SELECT COUNT(*) FROM staged_hashes").fetchone()[0] == 0
    finally:
        tracking.close()
    Tracking(path).close()  # already current: opened again as it is


# --- the commands that need no service ------------------------------------------------------


def test_validate_command_lists_problems_by_file_and_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from catalog_ingest.cli.main import app

    source = write_catalog(tmp_path / "cat.csv", catalog_rows(6, bad=(2,)))
    runner = CliRunner()
    text = runner.invoke(app, ["validate", str(source)])
    assert text.exit_code == 1
    assert f"{source}:4: ERROR INVALID_CHECK_DIGIT external_product_id:" in text.stdout
    assert "6 rows, 1 invalid" in text.stdout
    machine = runner.invoke(app, ["validate", str(source), "--json", "--warnings"])
    report = json.loads(machine.stdout)
    assert (report["rows"], report["invalid"]) == (6, 1)
    assert {p["code"] for p in report["problems"]} == {"INVALID_CHECK_DIGIT",
                                                       "INFERRED_BARCODE_TYPE"}
    write_catalog(source, catalog_rows(3))
    assert runner.invoke(app, ["validate", str(source)]).exit_code == 0
    bad_mapping = tmp_path / "m.toml"
    bad_mapping.write_text("[columns]\nsku = 'x'\n")
    assert runner.invoke(app, ["validate", str(source), "--mapping", str(bad_mapping)]
                         ).exit_code == 2


def test_history_command_reads_the_tracking_database(env: Env) -> None:
    from typer.testing import CliRunner

    from catalog_ingest.cli.main import app

    source = write_catalog(env.tmp / "cat.csv", catalog_rows(4))
    result = env.push(source, chunk_size=2)
    runner = CliRunner()
    db = str(env.tracking.path)
    pushes = json.loads(runner.invoke(app, ["history", "--tracking-db", db, "--json"]).stdout)
    assert [(p["push_id"], p["status"]) for p in pushes["pushes"]] == [(result.push_id, "DONE")]
    detail = json.loads(runner.invoke(app, ["history", result.push_id, "--tracking-db", db,
                                            "--json"]).stdout)
    assert [(c["seq"], c["status"], c["attempts"]) for c in detail["chunks"]] == [
        (1, "DONE", 1), (2, "DONE", 1)]
    missing = runner.invoke(app, ["history", "nope", "--tracking-db", db])
    assert missing.exit_code == 1


def test_notifications_complete_uploads_without_polling(env: Env,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from catalog_ingest.client.notify_wait import Wanted
    from catalog_ingest.client.push import NotifyOptions, notify
    from catalog_ingest.client.sns import Completion

    delivered: list[str] = []

    def fake_wait(ingestion_ids: Wanted, *, on_completion: Callable[[Completion], None],
                  on_listening: Callable[[str], None], on_confirmed: Callable[[str], None],
                  timeout: float, **_: Any) -> dict[str, Completion]:
        """Stands in for SNS: announces each upload once the service says it ended."""
        got: dict[str, Completion] = {}
        on_listening("http://fake-listener/")
        on_confirmed("http://testserver/sns/confirm?token=t")
        with TestClient(env.app) as http:
            while not ingestion_ids.done(got):
                ingestion_id = next(iter(sorted(ingestion_ids.snapshot() - set(got))), None)
                if ingestion_id is None:
                    threading.Event().wait(0.02)  # the fake's wait for the next upload
                    continue
                while True:
                    answer = http.post("/v1/catalog/getCatalogUploadStatus",
                                       json={"ingestionId": ingestion_id},
                                       auth=env.tenant.auth).json()
                    if answer["processingStatus"] == "DONE":
                        break
                    threading.Event().wait(0.02)  # the fake's own delivery delay
                link = answer["reportDownloadLink"].replace("http://testserver", ENDPOINT)
                got[ingestion_id] = Completion(ingestion_id, "DONE", link)
                delivered.append(ingestion_id)
                on_completion(got[ingestion_id])
        return got

    monkeypatch.setattr(notify, "wait_for_completions", fake_wait)
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(9))
    result = env.push(source, chunk_size=3, notify=NotifyOptions(listen="127.0.0.1:0"))
    assert (result.status, result.outcome.totals().created) == ("DONE", 9)
    assert sorted(delivered) == sorted(c.ingestion_id for c in env.tracking.chunks(result.push_id))
    assert not [p for p, _ in env.transport.seen if p.endswith("getCatalogUploadStatus")]


def test_sqs_region_comes_from_an_aws_queue_url_else_the_push() -> None:
    from catalog_ingest.client.push.notify import sqs_client_kwargs

    aws = "https://sqs.eu-west-1.amazonaws.com/123456789012/done"
    assert sqs_client_kwargs(aws, "us-east-1") == {"region_name": "eu-west-1"}
    assert sqs_client_kwargs("http://127.0.0.1:5000/123/q", "us-east-2") == {
        "region_name": "us-east-2"}


def test_wait_spellings_are_normalised() -> None:
    from catalog_ingest.cli.main import normalize_argv

    assert normalize_argv(["push", "a.csv", "--wait", "notify", "--listen", "h:1"]) == [
        "push", "a.csv", "--wait-mode", "notify", "--listen", "h:1"]
    assert normalize_argv(["push", "--wait=poll", "a.csv"]) == ["push", "--wait-mode=poll",
                                                               "a.csv"]
    assert normalize_argv(["push", "--wait", "a.csv"]) == ["push", "--wait", "a.csv"]


def test_every_attempt_is_recorded_up_to_giving_up(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(4, stores=("s1",)))
    env.transport.before += [("/v1/catalog/upload", lambda r: httpx.Response(500, json=RETRY_500))
                             for _ in range(3)]
    result = env.push(source, chunk_size=2, max_attempts=3)
    assert (result.status, result.exit_code) == ("INCOMPLETE", 1)
    attempts = [[(a["outcome"], a["http_status"]) for a in env.tracking.attempts(result.push_id,
                                                                                  c.seq)]
                for c in env.tracking.chunks(result.push_id)]
    assert attempts == [[("RetryableServerError", 500)] * 3, [("ACCEPTED", 201)]]
    assert env.delays[:2] == [0.5, 1.0]  # the SDK's backoff, by the push's policy


def _items_in(request: httpx.Request) -> int:
    return len(json.loads(request.content)["catalogItems"])


def too_large(items: int) -> Callable[[httpx.Request], httpx.Response | None]:
    """Answer 413 to the first upload of exactly ``items`` items."""
    return lambda r: (httpx.Response(413, json={"message": "Request Entity Too Large"})
                      if _items_in(r) == items else None)


def test_a_413_splits_the_chunk_in_halves_recursively(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(5, stores=("s1",)))
    env.transport.before += [("/v1/catalog/upload", too_large(5)),
                             ("/v1/catalog/upload", too_large(2))]
    result = env.push(source, chunk_size=5)
    assert (result.status, result.exit_code) == ("DONE", 0)
    assert not env.transport.before
    assert result.outcome.totals().created == 5
    chunks = {c.seq: c for c in env.tracking.chunks(result.push_id)}
    first, second = half_seq(1, False), half_seq(1, True)
    quarters = half_seq(first, False), half_seq(first, True)
    assert sorted(chunks) == sorted([1, first, second, *quarters])
    assert chunks[1].status == "SPLIT" and chunks[first].status == "SPLIT"
    assert [chunks[s].item_count for s in (*quarters, second)] == [1, 1, 3]
    assert all(chunks[s].status == "DONE" for s in (*quarters, second))
    assert len({c.idempotency_key for c in chunks.values()}) == 5
    outcomes = [a["outcome"] for a in env.tracking.attempts(result.push_id, 1)]
    assert outcomes == ["RequestTooLarge"]
    assert len(env.uploads()) == 3
    assert result.outcome.chunks["planned"] == result.outcome.chunks["accepted"] == 3


def test_a_resumed_push_finds_the_halves_it_sent(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(4, stores=("s1",)))
    env.transport.before += [("/v1/catalog/upload", too_large(4)),
                             ("/v1/catalog/upload", lambda r: httpx.Response(500, json=FATAL_500)
                              if _items_in(r) == 2 else None)]
    failed = env.push(source, chunk_size=4)
    assert (failed.status, failed.exit_code) == ("INCOMPLETE", 1)
    resumed = env.push(resume=True)
    assert (resumed.push_id, resumed.status) == (failed.push_id, "DONE")
    assert resumed.outcome.totals().created == 4
    assert len(env.uploads()) == 2  # one half accepted before, the other now
    assert [c.status for c in env.tracking.chunks(failed.push_id)] == ["SPLIT", "DONE", "DONE"]


def test_a_single_item_over_the_limit_fails_its_chunk(env: Env) -> None:
    source = write_catalog(env.tmp / "cat.csv", catalog_rows(2, stores=("s1",)))
    env.transport.before.append(("/v1/catalog/upload", too_large(1)))
    result = env.push(source, chunk_size=1)
    assert (result.status, result.exit_code) == ("INCOMPLETE", 1)
    assert [c.status for c in env.tracking.chunks(result.push_id)] == ["FAILED", "DONE"]
