"""One tracking interface, two backends: SQLite (push) and DynamoDB (moto server), same tests.

The record-level behaviour first, then the whole push pipeline (against the service in
process) on each backend: a push, an interrupted push resumed, and --delta.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from catalog_ingest.app import create_app
from catalog_ingest.cli.main import app
from catalog_ingest.client import AsyncCatalogClient
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.client.push import (
    Push,
    PushOptions,
    PushResult,
    Tracking,
    TrackingBackend,
)
from catalog_ingest.client.push.tracking import ChunkRecord, PushRecord, TrackingError, supersede
from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine.worker import Worker
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.support.moto import client, moto_server, unique
from tests.support.push_observers import CancelAfter
from tests.support.tenants import make_tenant

# One worker runs the module, so its moto server (and service) start once.
pytestmark = pytest.mark.xdist_group("tracking_backends")
HEADER = ["item_sku", "external_product_id", "item_name", "store_id", "standard_price"]


def ean(n: int) -> str:
    body = f"40{n:010d}"
    return body + str(gs1_check_digit(body))


def catalog_rows(n: int) -> list[list[str]]:
    return [[f"SKU-{i:04d}", ean(i), f"Item {i}", ("s1", "s2")[i % 2], "1.50"] for i in range(n)]


def write_catalog(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingBackend]:
    tracking: TrackingBackend
    if request.param == "sqlite":
        tracking = Tracking(tmp_path / "tracking.db")
    else:
        url = request.getfixturevalue("moto_url")
        dynamo = DynamoTracking(unique("tracking"), client("dynamodb", url))
        dynamo.create_table()
        tracking = dynamo
    yield tracking
    tracking.close()


def a_push(push_id: str, started: float, source: str = "src", status: str = "RUNNING",
           endpoint: str = "http://api") -> PushRecord:
    return PushRecord(push_id, endpoint, source, [{"path": "/x/cat.csv", "sha256": "ab"}],
                      {"chunk_size": 10}, status, started)


def a_chunk(push_id: str, seq: int, store: str = "s1") -> ChunkRecord:
    return ChunkRecord(push_id, seq, "UPLOAD", store, f"fp{seq}", f"key{seq}", 5, "cat.csv:2",
                       "cat.csv:6")


def test_backends_follow_the_interface(backend: TrackingBackend) -> None:
    assert isinstance(backend, TrackingBackend)
    assert str(backend.path)


def test_pushes_round_trip_and_list_newest_first(backend: TrackingBackend) -> None:
    now = time.time()
    backend.create_push(a_push("p1", now - 30))
    backend.create_push(a_push("p2", now - 20, source="other"))
    backend.create_push(a_push("p3", now - 10))
    with pytest.raises(Exception):  # noqa: B017 - each backend's own duplicate-key error
        backend.create_push(a_push("p3", now))
    assert backend.push("p1") == a_push("p1", now - 30)
    assert backend.push("nope") is None
    assert [p.push_id for p in backend.pushes()] == ["p3", "p2", "p1"]
    assert [p.push_id for p in backend.pushes(2)] == ["p3", "p2"]
    assert [p.push_id for p in backend.pushes(10, "http://api", "src")] == ["p3", "p1"]
    backend.update_push("p3", status="DONE", summary={"a": [1, 2]}, pid=None,
                        finished_at=now, rows_read=7)
    got = backend.push("p3")
    assert got is not None
    assert (got.status, got.summary, got.finished_at, got.rows_read) == (
        "DONE", {"a": [1, 2]}, now, 7)
    # p3 finished after p1 started: p1 was superseded for this source
    assert backend.latest_resumable("http://api", "src") is None
    assert backend.latest_resumable() is not None


def test_latest_resumable_and_supersede(backend: TrackingBackend) -> None:
    now = time.time()
    backend.create_push(a_push("old", now - 20, status="INTERRUPTED"))
    backend.create_push(a_push("new", now - 10, status="SUBMITTED"))
    found = backend.latest_resumable("http://api", "src")
    assert found is not None and found.push_id == "new"
    backend.stage("old", [("s1", "A", b"1" * 16)])
    assert sorted(supersede(backend, "http://api", "src", keep="new")) == ["old"]
    old = backend.push("old")
    assert old is not None and old.status == "ABANDONED"
    assert backend.known_hashes("http://api", "src", "s1", ["A"]) == {"A": b"1" * 16}


def test_chunks_round_trip_update_and_clear(backend: TrackingBackend) -> None:
    backend.create_push(a_push("p", time.time()))
    for seq in (2, 1, 10):
        backend.add_chunk(a_chunk("p", seq))
    assert [c.seq for c in backend.chunks("p")] == [1, 2, 10]
    assert backend.chunk("p", 1) == a_chunk("p", 1)
    assert backend.chunk("p", 3) is None
    backend.update_chunk("p", 2, status="ACCEPTED", ingestion_id="ing-2", submitted_at=12.5)
    backend.update_chunk("p", 2, summary={"itemsReceived": 5}, error="x")
    got = backend.chunk("p", 2)
    assert got is not None
    assert (got.status, got.ingestion_id, got.submitted_at, got.summary, got.error) == (
        "ACCEPTED", "ing-2", 12.5, {"itemsReceived": 5}, "x")
    backend.update_chunk("p", 2, status="FAILED", ingestion_id=None, error=None)
    got = backend.chunk("p", 2)
    assert got is not None and (got.status, got.ingestion_id, got.error) == ("FAILED", None, None)
    assert backend.chunks("other") == []


def test_find_ingestion_and_open_uploads(backend: TrackingBackend) -> None:
    backend.create_push(a_push("p1", time.time() - 5))
    backend.create_push(a_push("p2", time.time()))
    backend.add_chunk(a_chunk("p1", 1))
    backend.add_chunk(a_chunk("p2", 1))
    backend.add_chunk(a_chunk("p2", 2))
    backend.update_chunk("p1", 1, status="ACCEPTED", ingestion_id="same", submitted_at=1.0)
    backend.update_chunk("p2", 1, status="ACCEPTED", ingestion_id="same", submitted_at=2.0)
    backend.update_chunk("p2", 2, status="ACCEPTED", ingestion_id="other", submitted_at=3.0)
    found = backend.find_ingestion("same")
    assert found is not None and (found[0].push_id, found[1].seq) == ("p2", 1)
    assert backend.find_ingestion("unknown") is None
    assert [(c.push_id, c.seq) for c in backend.open_uploads()] == [
        ("p1", 1), ("p2", 1), ("p2", 2)]
    backend.update_chunk("p2", 1, status="INPROGRESS")
    backend.update_chunk("p1", 1, status="DONE", completed_at=4.0)
    assert [(c.push_id, c.seq) for c in backend.open_uploads()] == [("p2", 1), ("p2", 2)]


def test_attempts_in_order_and_per_chunk(backend: TrackingBackend) -> None:
    backend.create_push(a_push("p", time.time()))
    backend.record_attempt("p", 1, "Throttled", 429, "req-1", "slow down")
    backend.record_attempt("p", 2, "ACCEPTED", 201)
    backend.record_attempt("p", 1, "ACCEPTED", 201, "req-3")
    rows = backend.attempts("p")
    assert [(r["seq"], r["outcome"], r["http_status"], r["request_id"]) for r in rows] == [
        (1, "Throttled", 429, "req-1"), (2, "ACCEPTED", 201, None), (1, "ACCEPTED", 201, "req-3")]
    assert rows[0]["message"] == "slow down" and rows[1]["message"] is None
    assert all(r["push_id"] == "p" and isinstance(r["at"], float) and r["id"] for r in rows)
    assert [r["outcome"] for r in backend.attempts("p", 1)] == ["Throttled", "ACCEPTED"]
    assert backend.attempts("p", 9) == []


def test_delta_hashes_are_staged_then_merged(backend: TrackingBackend) -> None:
    e, s = "http://api", "src"
    backend.create_push(a_push("p1", time.time()))
    backend.stage("p1", [("s1", "A", b"a" * 16), ("s1", "B", b"b" * 16), ("s2", "A", b"c" * 16)])
    assert backend.known_hashes(e, s, "s1", ["A", "B"]) == {}  # not before the push ended
    backend.merge_staged("p1", e, s)
    assert backend.known_hashes(e, s, "s1", ["A", "B", "Z"]) == {"A": b"a" * 16, "B": b"b" * 16}
    assert list(backend.known_items(e, s)) == [("s1", "A"), ("s1", "B"), ("s2", "A")]
    backend.create_push(a_push("p2", time.time()))
    backend.stage("p2", [("s1", "A", None), ("s1", "B", b"B" * 16)])
    backend.merge_staged("p2", e, s)
    assert backend.known_hashes(e, s, "s1", ["A", "B"]) == {"B": b"B" * 16}
    assert list(backend.known_items(e, s)) == [("s1", "B"), ("s2", "A")]
    assert list(backend.known_items(e, "other")) == []
    many = [f"SKU-{i}" for i in range(260)]
    backend.stage("p2", [("s3", sku, b"x" * 16) for sku in many])
    backend.merge_staged("p2", e, s)
    assert len(backend.known_hashes(e, s, "s3", many)) == 260


def test_sqlite_and_dynamodb_name_their_place(tmp_path: Path, moto_url: str) -> None:
    sqlite = Tracking(tmp_path / "t.db")
    assert sqlite.path == tmp_path / "t.db"
    sqlite.close()
    dynamo = DynamoTracking("some-table", client("dynamodb", moto_url))
    assert dynamo.path == "dynamodb://some-table"
    with pytest.raises(TrackingError):
        DynamoTracking(unique("missing"), client("dynamodb", moto_url)).update_push("x", a=1)


# --- the push pipeline on each backend ----------------------------------------------------------


class Service:
    """The service in process (ASGI app + a worker thread), reached through httpx."""

    def __init__(self, tmp: Path) -> None:
        settings = Settings(data_dir=tmp / "data", secret_key=b"backend-test-secret-0123456789abc",
                            poll_interval=0.05, rate_limit="100000/second")
        self.svc = open_runtime(settings)
        self.tenant = make_tenant(self.svc, "Retailer", ["s1", "s2"])
        self.app = create_app(settings, runtime=self.svc)
        self.stop = threading.Event()
        self.worker = threading.Thread(target=Worker(self.svc).run, args=(self.stop,),
                                       daemon=True)
        self.worker.start()

    def client(self) -> AsyncCatalogClient:
        return AsyncCatalogClient("http://testserver", access_key=self.tenant.access_key_id,
                                  secret_key=self.tenant.secret_access_key, rate_limit=None,
                                  max_attempts=1, transport=httpx.ASGITransport(app=self.app))

    def uploads(self) -> list[str]:
        async def listing() -> list[str]:
            async with self.client() as client:
                return [u.ingestion_id async for u in client.iter_uploads(page_size=100)]

        return asyncio.run(listing())

    def close(self) -> None:
        self.stop.set()
        self.svc.wake.set()
        self.worker.join(timeout=30)
        self.svc.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path)
    yield running
    running.close()


def run_push(service: Service, tracking: TrackingBackend, tmp: Path, observer: Any = None,
             **options: Any) -> PushResult:
    opts = PushOptions(results_dir=tmp / "results", poll_initial=0.01, poll_max=0.05,
                       **options)

    async def run() -> PushResult:
        async with service.client() as client:
            return await Push(opts, client, tracking, observer).run()

    return asyncio.run(run())


def test_a_push_interrupted_and_resumed_sends_each_chunk_once(
        backend: TrackingBackend, service: Service, tmp_path: Path) -> None:
    source = write_catalog(tmp_path / "cat.csv", catalog_rows(20))
    with pytest.raises(asyncio.CancelledError):
        run_push(service, backend, tmp_path, CancelAfter(3), sources=(source,), chunk_size=3,
                 concurrency=1)
    interrupted = backend.pushes(1)[0]
    assert interrupted.status == "INTERRUPTED"
    resumed = run_push(service, backend, tmp_path, resume=True)
    chunks = backend.chunks(interrupted.push_id)
    assert (resumed.status, len(chunks)) == ("DONE", 8)
    assert all(c.status == "DONE" and c.report_path for c in chunks)
    assert resumed.outcome.totals().created == 20
    assert len({c.ingestion_id for c in chunks}) == 8
    accepted = [a for a in backend.attempts(interrupted.push_id) if a["outcome"] == "ACCEPTED"]
    assert sorted(a["seq"] for a in accepted) == sorted(c.seq for c in chunks)
    # What was accepted before the interruption was not uploaded again (a chunk in flight
    # may have been re-sent with its key: the service answered with the same upload).
    assert sorted(service.uploads()) == sorted(c.ingestion_id for c in chunks)


def test_delta_on_each_backend_sends_only_what_changed(
        backend: TrackingBackend, service: Service, tmp_path: Path) -> None:
    rows = catalog_rows(10)
    source = write_catalog(tmp_path / "cat.csv", rows)
    first = run_push(service, backend, tmp_path, sources=(source,), delta=True)
    assert first.status == "DONE" and first.outcome.totals().created == 10
    rows[3][2] = "Renamed"
    write_catalog(source, rows)
    second = run_push(service, backend, tmp_path, sources=(source,), delta=True)
    assert second.status == "DONE"
    assert second.outcome.totals().updated == 1
    assert sum(s.skipped_unchanged for s in second.outcome.stores.values()) == 9


# --- `catalog-ingest history` reads either backend ------------------------------------------------


def history(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, ["history", *args], env=env)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> dict[str, str]:
    for name in ("CATALOG_INGEST_TRACKING_TABLE", "CATALOG_INGEST_TRACKING_DB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return {"AWS_ENDPOINT_URL": moto_url, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def test_history_reads_either_backend(backend: TrackingBackend, cli_env: dict[str, str]) -> None:
    backend.create_push(a_push("p-hist", time.time()))
    backend.add_chunk(a_chunk("p-hist", 1))
    backend.update_chunk("p-hist", 1, status="ACCEPTED", ingestion_id="ing-h")
    backend.record_attempt("p-hist", 1, "Throttled", 429)
    backend.record_attempt("p-hist", 1, "ACCEPTED", 201)
    if isinstance(backend, DynamoTracking):
        where = ["--tracking-table", backend.table]
    else:
        where = ["--tracking-db", str(backend.path)]
    listed = history([*where, "--json"], cli_env)
    assert listed.exit_code == 0, listed.output
    assert [p["push_id"] for p in json.loads(listed.stdout)["pushes"]] == ["p-hist"]
    one = history([*where, "p-hist", "--json"], cli_env)
    assert one.exit_code == 0, one.output
    (chunk,) = json.loads(one.stdout)["chunks"]
    assert (chunk["ingestion_id"], chunk["attempts"]) == ("ing-h", 2)


def test_history_takes_the_table_from_the_environment(cli_env: dict[str, str],
                                                      moto_url: str) -> None:
    dynamo = DynamoTracking(unique("tracking"), client("dynamodb", moto_url))
    dynamo.create_table()
    dynamo.create_push(a_push("from-env", time.time()))
    listed = history(["--json"], {**cli_env, "CATALOG_INGEST_TRACKING_TABLE": dynamo.table})
    assert listed.exit_code == 0, listed.output
    assert [p["push_id"] for p in json.loads(listed.stdout)["pushes"]] == ["from-env"]
    missing = history(["--tracking-table", "no-such-table"], cli_env)
    assert missing.exit_code == 1
    assert "no-such-table: no such DynamoDB table" in missing.output
