"""`poll`: signed getCatalogUploadStatus req/s with 16 concurrent clients, against bare uvicorn.

The ceiling is bench_accept's bare ASGI app (same uvicorn defaults) answering a tiny POST. The
service is `catalog-ingest serve --no-worker` (embedded default) holding one DONE upload, so
each status answer carries a freshly signed report link. One load generator (a separate
process: asyncio streams, 16 keep-alive connections, requests built beforehand) drives both
servers in turn, alternating, for a fixed time each; signing is done before the clock starts
(a pool of SigV4-signed requests, cycled, well inside the 5-minute clock-skew window). The
rate limit is lifted as in every benchmark server (the limiter still runs on every request).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_accept import bare_argv
from bench.common import (
    OUT,
    ROOT,
    BenchResult,
    Server,
    Target,
    fresh_dir,
    provision,
    serve_argv,
    sign,
)
from bench.datagen import encode_body, generate
from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings

CLIENTS = 16
TARGET_RATIO = 0.5
POOL = 256  # distinct signed requests, cycled


def raw_request(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    host = url.split("//", 1)[1]
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host",
                                                                           "content-length"))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> None:
    """Consume a response body: content-length, or chunked (the bare app sends no length)."""
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
            return


async def _client(host: str, port: int, requests: list[bytes], offset: int, until: float,
                  counts: list[int], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = offset
    try:
        while time.monotonic() < until:
            writer.write(requests[n % len(requests)])
            n += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            await _read_body(reader, head)
            statuses[status] = statuses.get(status, 0) + 1
            counts[0] += 1
    finally:
        writer.close()


async def _load(url: str, requests: list[bytes], seconds: float) -> tuple[float, dict[int, int]]:
    host, port = url.split("//", 1)[1].split(":")
    counts: list[int] = [0]
    statuses: dict[int, int] = {}
    warm_until = time.monotonic() + 1.0
    await asyncio.gather(*(_client(host, int(port), requests, k, warm_until, [0], {})
                           for k in range(CLIENTS)))
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(_client(host, int(port), requests, k * 7, until, counts, statuses)
                           for k in range(CLIENTS)))
    return counts[0] / (time.monotonic() - started), statuses


def load_main() -> None:
    """Entry of the load-generator process: argv url, requests file, seconds; prints JSON."""
    url, path, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    requests = json.loads(path.read_text())
    rate, statuses = asyncio.run(_load(url, [r.encode("latin-1") for r in requests], seconds))
    print(json.dumps({"rate": rate, "statuses": statuses}))


def load(url: str, requests: list[bytes], seconds: float, work: Path
         ) -> tuple[float, dict[str, int]]:
    path = work / f"requests-{abs(hash(url))}.json"
    path.write_text(json.dumps([r.decode("latin-1") for r in requests]))
    code = "from bench.bench_poll import load_main; load_main()"
    out = subprocess.run([sys.executable, "-c", code, url, str(path), str(seconds)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-2000:]}")
    doc = json.loads(out.stdout)
    return float(doc["rate"]), doc["statuses"]


def run(quick: bool = False) -> BenchResult:
    seconds, rounds = (3.0, 2) if quick else (6.0, 3)
    result = BenchResult("poll")
    work = fresh_dir("poll")
    data = work / "data"
    svc = open_runtime(Settings(data_dir=data))
    try:
        tenant = provision(svc, "Poll Bench", ["poll-store"])
        body = encode_body(generate(100, 5, ["poll-store"]))
        ingestion_id = intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD,
                                     body=body, item_count=100, store_ids=["poll-store"],
                                     idempotency_key=None)
        drain(svc)
    finally:
        svc.close()
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rates: dict[str, list[float]] = {"bare": [], "poll": []}
    with Server(bare_argv(), logs / "poll-bare.log", ready_path="/") as bare, \
            Server(serve_argv("--no-worker"), logs / "poll-serve.log",
                   env={"CATALOG_INGEST_DATA_DIR": str(data)}) as ours:
        status_url = ours.url + "/v1/catalog/getCatalogUploadStatus"
        status_body = json.dumps({"ingestionId": ingestion_id}).encode()
        tiny = b'{"ping":1}'
        bare_requests = [raw_request(bare.url, "/tiny", tiny,
                                     {"content-type": "application/json"})]
        for r in range(rounds):
            signed = [raw_request(ours.url, "/v1/catalog/getCatalogUploadStatus", status_body,
                                  sign(status_url, status_body, tenant))
                      for _ in range(POOL)]
            order = [("bare", bare.url, bare_requests), ("poll", ours.url, signed)]
            for name, url, requests in (order if r % 2 == 0 else order[::-1]):
                rate, statuses = load(url, requests, seconds, work)
                expected = "201" if name == "bare" else "200"
                if set(statuses) != {expected}:
                    raise RuntimeError(f"{name}: unexpected statuses {statuses}")
                rates[name].append(rate)
    bare_rate, poll_rate = max(rates["bare"]), max(rates["poll"])
    result.row("load", f"{CLIENTS} concurrent keep-alive clients, {seconds:.0f} s per round, "
               f"{rounds} rounds alternating, best round of each")
    result.row("ceiling: bare uvicorn tiny POST", f"{bare_rate:,.0f} req/s "
               f"(rounds: {', '.join(f'{x:,.0f}' for x in rates['bare'])})")
    result.row("getCatalogUploadStatus, signed (DONE upload: signed report link)",
               f"{poll_rate:,.0f} req/s (rounds: {', '.join(f'{x:,.0f}' for x in rates['poll'])})")
    ratio = poll_rate / bare_rate
    result.targets.append(Target("poll", f"{poll_rate:,.0f} req/s", ratio, ratio >= TARGET_RATIO))
    result.notes.append(f"poll target: ≥ {TARGET_RATIO}x the bare tiny-POST req/s (the ratio "
                        "printed, higher is better); both measured by the same load generator.")
    return result


if __name__ == "__main__":  # pragma: no cover - the load generator's own entry
    load_main()
