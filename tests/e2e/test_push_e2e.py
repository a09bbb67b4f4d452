"""`catalog-ingest push` end to end against a real `catalog-ingest serve`: a 100,000-row CSV with
a mapping file, delta, a lowered rate limit, injected 500s (through a proxy), SIGKILL + resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings
from catalog_ingest.storage import uploads
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.xdist_group("push-e2e")

SECRET_HEX = "5e" * 32
FATAL_500 = b'{"errorMsg": "Exception encountered while processing the request"}'
RETRY_500 = FATAL_500[:-2] + b', please retry again."}'
MAPPING = """
[columns]
item_sku = "Article No"
external_product_id = "EAN"
item_name = "Description"
standard_price = "Price (cents)"
brand_name = "Brand"
store_id = "Shop"

[constants]
external_product_id_type = "EAN"
product_tax_code = "A_GEN_TAX"

[convert]
external_product_id = "digits"
standard_price = "cents"

[[additional_ids]]
column = "EAN 2"
type = "EAN"

[[additional_ids]]
column = "More EANs"
split = "|"
type = "EAN"
"""
FAULTS = ("check_digit", "price", "name")


def ean(n: int) -> str:
    body = f"40{n:010d}"
    return body + str(gs1_check_digit(body))


@dataclass
class Catalog:
    """A generated source: row i is SKU A-<i> in store(i), on line i + 2 of the CSV."""

    path: Path
    rows: int
    stores: tuple[str, str]
    faulty: dict[int, str] = field(default_factory=dict)

    def store(self, i: int) -> str:
        return self.stores[i % 2]

    def valid(self) -> list[int]:
        return [i for i in range(self.rows) if i not in self.faulty]


def generate(path: Path, rows: int, stores: tuple[str, str], *,
             edited: frozenset[int] = frozenset()) -> Catalog:
    """A retailer's export: semicolons, a UTF-8 BOM, prices in cents, grouped barcode digits,
    extra barcodes in two columns; ~1% faulty rows (every 97th, three kinds in turn)."""
    catalog = Catalog(path, rows, stores)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f, delimiter=";")
        out.writerow(["Article No", "EAN", "EAN 2", "More EANs", "Description",
                      "Price (cents)", "Brand", "Shop"])
        for i in range(rows):
            code = ean(3 * i)
            more = f"{ean(3 * i + 1)} | {ean(3 * i + 2)}" if i % 7 == 0 else ""
            name, cents = f"Item {i}", str(100 + i % 900 + (1 if i in edited else 0))
            if i % 97 == 5:
                catalog.faulty[i] = kind = FAULTS[(i // 97) % 3]
                if kind == "check_digit":
                    code = code[:-1] + str((int(code[-1]) + 1) % 10)
                elif kind == "price":
                    cents = "12x"
                else:
                    name = "  "
            out.writerow([f"A-{i:06d}", f"{code[:1]} {code[1:7]} {code[7:]}",
                          ean(3 * i + 1) if i % 3 == 0 and not more else "", more, name, cents,
                          f"Brand {i % 10}", catalog.store(i)])
    return catalog


# --- the service, a proxy in front of it, the push command ---------------------------------------


@dataclass
class Rig:
    data_dir: Path
    svc: Runtime
    server: ServerProcess

    def tenant(self, name: str) -> tuple[Tenant, tuple[str, str]]:
        """A retailer with two stores of its own (store ids are unique service-wide)."""
        prefix = name.lower().replace(" ", "-")
        stores = (f"{prefix}-a", f"{prefix}-b")
        return make_tenant(self.svc, name, list(stores)), stores

    def uploads(self, tenant: Tenant) -> list[Any]:
        with self.svc.db.read() as conn:
            return uploads.list_uploads(conn, tenant.retailer_id, 1_000_000, None, None)


def start_rig(root: Path, env: dict[str, str] | None = None) -> Rig:
    settings = Settings(data_dir=root / "data", secret_key=bytes.fromhex(SECRET_HEX))
    svc = open_runtime(settings)
    server = ServerProcess(settings.data_dir, env={"CATALOG_INGEST_SECRET_KEY": SECRET_HEX,
                                                  **(env or {})})
    server.env.pop("CATALOG_INGEST_DATABASE_URL", None)
    server.start()
    return Rig(settings.data_dir, svc, server)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    started = start_rig(tmp_path_factory.mktemp("push-e2e"))
    yield started
    started.server.stop()
    started.svc.close()


Rule = Callable[[str, int], bytes | None]


class Proxy:
    """A loopback HTTP proxy to the server, passing the Host header through unchanged (so the
    client's SigV4 signature, made for the proxy's address, still verifies). ``before`` rules
    may answer a request with a 500 instead of forwarding it; ``after`` rules forward it and
    then answer the client with a 500 anyway (the server did the work, the client never hears)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.before: list[tuple[str, int, bytes]] = []
        self.after: list[tuple[str, int, bytes]] = []
        self.counts: dict[str, int] = {}
        self.log: list[tuple[float, str, int]] = []
        self.http = httpx.Client(timeout=120)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _rule(self, rules: list[tuple[str, int, bytes]], path: str, n: int) -> bytes | None:
        return next((body for p, k, body in rules if path.endswith(p) and k == n), None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("content-length") or 0)))

            def _forward(self, body: bytes) -> None:
                path = self.path.split("?")[0]
                n = proxy.counts[path] = proxy.counts.get(path, 0) + 1
                injected = proxy._rule(proxy.before, path, n)
                if injected is None:
                    arrived = time.monotonic()
                    answer = proxy.http.request(self.command, proxy.target + self.path,
                                                content=body, headers=dict(self.headers))
                    proxy.log.append((arrived, path, answer.status_code))
                    injected = proxy._rule(proxy.after, path, n)
                    if injected is None:
                        return self._answer(answer.status_code, answer.content,
                                            answer.headers.get("content-type", ""))
                self._answer(500, injected, "application/json")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


@dataclass
class Pusher:
    """Runs `catalog-ingest push …` as a user would, with its own tracking database."""

    tmp: Path
    tenant: Tenant
    endpoint: str

    @property
    def tracking(self) -> Path:
        return self.tmp / "tracking.db"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CATALOG_"))}
        return {**env, "AWS_ACCESS_KEY_ID": self.tenant.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.tenant.secret_access_key,
                "CATALOG_INGEST_ENDPOINT": self.endpoint,
                "CATALOG_INGEST_TRACKING_DB": str(self.tracking),
                "XDG_DATA_HOME": str(self.tmp / "xdg")}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "catalog_ingest", "push", "--json", "--no-progress", *args]

    def run(self, *args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(self.argv(*args), env=self.env(), capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.argv(*args), env=self.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def chunks(self) -> list[sqlite3.Row]:
        with sqlite3.connect(self.tracking) as db:
            db.row_factory = sqlite3.Row
            return db.execute("SELECT * FROM chunks ORDER BY push_id, seq").fetchall()

    def attempts(self) -> list[str]:
        with sqlite3.connect(self.tracking) as db:
            return [r[0] for r in db.execute("SELECT outcome FROM attempts ORDER BY id")]


def reports(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("0*.json"))]


def mapping_file(tmp: Path) -> Path:
    path = tmp / "mapping.toml"
    path.write_text(MAPPING)
    return path


# --- the tests -----------------------------------------------------------------------------------


def test_100k_rows_with_a_mapping_then_a_delta_of_1_percent(rig: Rig, tmp_path: Path) -> None:
    tenant, stores = rig.tenant("Big Retailer")
    pusher = Pusher(tmp_path, tenant, rig.server.url)
    catalog = generate(tmp_path / "export.csv", 100_000, stores)
    taken = [i for i in catalog.valid() if catalog.store(i) == stores[1]][100:103]
    with httpx.Client(base_url=rig.server.url, auth=tenant.auth) as http:
        holders = [{"item_sku": f"HOLDER-{i}", "external_product_id": ean(3 * i),
                    "item_name": "Holder", "store_id": stores[1]} for i in taken]
        assert http.post("/v1/catalog/upload", json={"catalogItems": holders}).status_code == 201
    mapping = mapping_file(tmp_path)
    code, summary = pusher.run(str(catalog.path), "--mapping", str(mapping),
                               "--results-dir", str(tmp_path / "r1"))
    assert (code, summary["status"]) == (1, "DONE")
    valid = catalog.valid()
    for store in stores:
        counts = summary["stores"][store]
        mine = [i for i in range(catalog.rows) if catalog.store(i) == store]
        rejected = sum(1 for i in taken if catalog.store(i) == store)
        assert counts["invalid"] == sum(1 for i in mine if i in catalog.faulty)
        assert counts["sent"] == sum(1 for i in mine if i not in catalog.faulty)
        assert (counts["accepted"], counts["rejected"]) == (counts["sent"] - rejected, rejected)
        assert counts["created"] == counts["accepted"]
    got = reports(tmp_path / "r1")
    assert len(got) == 10 and all(r["processingStatus"] == "DONE" for r in got)
    assert sum(r["summary"]["itemsAccepted"] for r in got) == len(valid) - len(taken)
    accepted = {x["item_sku"] for r in got for x in r["itemResults"] if x["status"] == "ACCEPTED"}
    assert accepted == {f"A-{i:06d}" for i in valid} - {f"A-{i:06d}" for i in taken}
    with open(tmp_path / "r1" / "invalid-rows.csv", newline="", encoding="utf-8") as f:
        invalid = {(int(r["line"]), r["code"]) for r in csv.DictReader(f)}
    expected_codes = {"check_digit": "INVALID_CHECK_DIGIT", "price": "CONVERSION_FAILED",
                      "name": "BLANK_ITEM_NAME"}
    assert invalid == {(i + 2, expected_codes[k]) for i, k in catalog.faulty.items()}
    conflicts = [i for i in summary["issues"] if i["code"] == "BARCODE_CONFLICT"]
    assert conflicts[0]["origin"] == "service" and conflicts[0]["count"] == len(taken)

    edited = frozenset(valid[::100])
    generate(catalog.path, catalog.rows, stores, edited=edited)
    code, delta = pusher.run(str(catalog.path), "--mapping", str(mapping), "--delta",
                             "--results-dir", str(tmp_path / "r2"))
    totals = delta["totals"]
    resent = len(edited | set(taken))  # never-accepted items are sent again
    assert (code, totals["sent"], totals["updated"]) == (1, resent, len(edited - set(taken)))
    assert totals["skipped_unchanged"] == len(valid) - resent
    assert sum(r["summary"]["itemsReceived"] for r in reports(tmp_path / "r2")) == resent


def test_a_lowered_rate_limit_is_absorbed_without_exceeding_it(tmp_path: Path) -> None:
    rig = start_rig(tmp_path, {"CATALOG_INGEST_RATE_LIMIT": "3/second"})
    proxy = Proxy(rig.server.url)
    try:
        tenant, stores = rig.tenant("Throttled Retailer")
        pusher = Pusher(tmp_path, tenant, proxy.url)
        catalog = generate(tmp_path / "export.csv", 1_200, stores)
        code, summary = pusher.run(str(catalog.path), "--mapping", str(mapping_file(tmp_path)),
                                   "--chunk-size", "200", "--rate", "10")
        assert code == 1 and summary["status"] == "DONE"  # 1: the faulty rows
        assert summary["totals"]["accepted"] == len(catalog.valid())
        assert "Throttled" in pusher.attempts()
        per_store = [sum(1 for i in catalog.valid() if catalog.store(i) == s) for s in stores]
        chunks = sum(-(-n // 200) for n in per_store)
        assert len(rig.uploads(tenant)) == len(pusher.chunks()) == chunks
        served = [t for t, path, status in proxy.log
                  if status != 429 and path.startswith("/v1/catalog/")]
        busiest = max(sum(1 for u in served if t <= u < t + 1.0) for t in served)
        assert busiest <= 3 + 1  # the server's limit (±1 for clock jitter between proxy and server)
    finally:
        proxy.close()
        rig.server.stop()
        rig.svc.close()


def test_injected_500s_are_retried_or_reported_and_resume_completes(rig: Rig,
                                                                    tmp_path: Path) -> None:
    proxy = Proxy(rig.server.url)
    try:
        tenant, stores = rig.tenant("Faulty Network Retailer")
        pusher = Pusher(tmp_path, tenant, proxy.url)
        catalog = generate(tmp_path / "export.csv", 3_000, stores)
        proxy.before += [("/upload", 2, RETRY_500), ("/upload", 5, FATAL_500),
                         ("/getCatalogUploadStatus", 1, RETRY_500)]
        proxy.after.append(("/upload", 3, RETRY_500))  # accepted, but the 201 is lost
        args = (str(catalog.path), "--mapping", str(mapping_file(tmp_path)), "--store", stores[0],
                "--chunk-size", "1000")
        code, summary = pusher.run(*args)
        assert (code, summary["status"]) == (1, "INCOMPLETE")
        assert [f["seq"] for f in summary["chunkFailures"]] == [3]
        assert pusher.attempts().count("RetryableServerError") == 2
        code, resumed = pusher.run(*args, "--resume")
        assert (code, resumed["status"]) == (1, "DONE")  # 1: the faulty rows
        assert resumed["totals"]["accepted"] == len(catalog.valid())
        chunks = pusher.chunks()
        assert [c["status"] for c in chunks] == ["DONE"] * 3
        assert sorted(u.ingestion_id for u in rig.uploads(tenant)) == sorted(
            c["ingestion_id"] for c in chunks)
    finally:
        proxy.close()


def test_a_push_killed_with_sigkill_resumes_without_duplicates(rig: Rig, tmp_path: Path) -> None:
    tenant, stores = rig.tenant("Killed Retailer")
    pusher = Pusher(tmp_path, tenant, rig.server.url)
    catalog = generate(tmp_path / "export.csv", 12_000, stores)
    args = (str(catalog.path), "--mapping", str(mapping_file(tmp_path)), "--chunk-size", "300",
            "--rate", "5")
    process = pusher.start(*args)
    deadline = time.monotonic() + 60
    try:
        while sum(1 for c in _chunks_if_any(pusher) if c["ingestion_id"]) < 8:
            assert process.poll() is None, "the push ended before it could be killed"
            assert time.monotonic() < deadline, "the push made no progress"
            time.sleep(0.05)  # polling the tracking database for progress
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = pusher.chunks()
    assert any(c["ingestion_id"] is None for c in before) or len(before) < 40
    code, summary = pusher.run("--resume")
    assert (code, summary["status"]) == (1, "DONE")  # 1: the faulty rows
    assert summary["totals"]["accepted"] == len(catalog.valid())
    chunks = pusher.chunks()
    assert len(chunks) == 40 and all(c["status"] == "DONE" for c in chunks)
    for old in before:
        if old["ingestion_id"]:
            assert chunks[old["seq"] - 1]["ingestion_id"] == old["ingestion_id"]
    assert sorted(u.ingestion_id for u in rig.uploads(tenant)) == sorted(
        c["ingestion_id"] for c in chunks)
    assert len(reports(Path(summary["resultsDir"]))) == 40


def _chunks_if_any(pusher: Pusher) -> list[sqlite3.Row]:
    try:
        return pusher.chunks() if pusher.tracking.exists() else []
    except sqlite3.OperationalError:
        return []  # the schema is being created


def test_status_report_and_history_commands_use_the_tracking_database(rig: Rig,
                                                                      tmp_path: Path) -> None:
    tenant, stores = rig.tenant("Curious Retailer")
    pusher = Pusher(tmp_path, tenant, rig.server.url)
    catalog = generate(tmp_path / "export.csv", 200, stores)
    code, summary = pusher.run(str(catalog.path), "--mapping", str(mapping_file(tmp_path)),
                               "--store", stores[0])
    assert (code, summary["status"]) == (1, "DONE")
    (chunk,) = pusher.chunks()
    env = {k: v for k, v in pusher.env().items() if k != "CATALOG_INGEST_ENDPOINT"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "catalog_ingest", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    status = json.loads(cli("status", chunk["ingestion_id"], "--json").stdout)
    assert (status["processing_status"], status["push_id"]) == ("DONE", chunk["push_id"])
    assert status["report_download_link"].startswith(rig.server.url + "/v1/reports/")
    saved = tmp_path / "report.json"
    done = cli("report", chunk["ingestion_id"], "--output", str(saved), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["itemsAccepted"] == len(catalog.valid())
    assert json.loads(saved.read_text())["ingestionId"] == chunk["ingestion_id"]
    unknown = cli("status", "00000000-0000-4000-8000-000000000000", "--endpoint",
                  rig.server.url)
    assert unknown.returncode == 1 and "Invalid parameter" in unknown.stderr
    history = cli("history")
    assert history.returncode == 0 and chunk["push_id"][:8] in history.stdout
