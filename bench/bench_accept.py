"""`accept`: a 10k-item upload → 201 from a real `serve`, against a bare uvicorn receive + parse.

The ceiling is a bare ASGI app under the same uvicorn configuration (`uvicorn.run` defaults:
uvloop and httptools when installed) that receives the body and `orjson.loads` it, in its own
process, driven by the same httpx client (keep-alive) with the same body. Requests to the two
servers are interleaved so that load from other processes on the machine hits both alike.
Signing (botocore SigV4, a client-side cost) happens before each timed request.

Two cases, each with its own interleaved ceiling: `serve --no-worker` (the worker idle), and the
embedded default with its worker (a child process of `serve`) processing the uploads back to
back (10k items take longer to process than to send, so it is busy from the first upload to the
last).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    OUT,
    BenchResult,
    Server,
    Target,
    Tenant,
    fresh_dir,
    median,
    ms,
    percentile,
    provision_data_dir,
    serve_argv,
    sign,
)
from bench.datagen import encode_body, generate

STORES = ["store-0001", "store-0002", "store-0003", "store-0004"]
TARGET_RATIO = 1.5
TARGET_MS = 80.0
P99_RATIO = 3.0
WARMUP = 3

Send = Callable[[], float]


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ceiling: receive the whole body, parse it with orjson, answer 201."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    status = 200
    if scope["method"] == "POST":
        orjson.loads(b"".join(chunks))
        status = 201
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body",
                "body": b'{"ingestionId":"00000000-0000-0000-0000-000000000000"}'})


def bare_argv() -> list[str]:
    code = ("import uvicorn; uvicorn.run('bench.bench_accept:bare_app', host='127.0.0.1', "
            "port={port}, log_level='info', access_log=False)")
    return [sys.executable, "-c", code]


def sender(client: httpx.Client, url: str, body: bytes, tenant: Tenant | None) -> Send:
    """One upload per call; returns its latency (request sent → 201 read), signing excluded."""
    def send() -> float:
        headers = (sign(url, body, tenant) if tenant is not None
                   else {"content-type": "application/json"})
        started = time.perf_counter()
        response = client.post(url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        return elapsed

    return send


def interleaved(sends: list[Send], rounds: int) -> list[list[float]]:
    """`rounds` calls of each sender, alternating which goes first, after a warm-up."""
    for _ in range(WARMUP):
        for send in sends:
            send()
    out: list[list[float]] = [[] for _ in sends]
    for r in range(rounds):
        order = list(range(len(sends)))
        if r % 2:
            order.reverse()
        for i in order:
            out[i].append(sends[i]())
    return out


def _figures(result: BenchResult, label: str, samples: list[float]) -> None:
    result.row(f"{label} p50 / p99 / min (n={len(samples)})",
               f"{ms(median(samples))} / {ms(percentile(samples, 99))} / {ms(min(samples))}")


def run(quick: bool = False) -> BenchResult:
    rounds = 30 if quick else 60
    result = BenchResult("accept")
    body = encode_body(generate(10_000, 42, STORES))
    result.row("body", f"10,000 items, {len(body) / 1e6:.2f} MB, {len(STORES)} stores")
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cases = {}
    for name, extra in (("idle", ("--no-worker",)), ("busy", ())):
        data = fresh_dir(f"accept-{name}")
        tenant = provision_data_dir(data, STORES)
        with Server(bare_argv(), logs / f"accept-bare-{name}.log", ready_path="/") as bare, \
                Server(serve_argv(*extra), logs / f"accept-serve-{name}.log",
                       env={"CATALOG_INGEST_DATA_DIR": str(data)}) as ours, \
                httpx.Client(timeout=60) as c1, httpx.Client(timeout=60) as c2:
            cases[name] = interleaved(
                [sender(c1, bare.url + "/upload", body, None),
                 sender(c2, ours.url + "/v1/catalog/upload", body, tenant)], rounds)
            queued = _queued(data)
        shutil.rmtree(data, ignore_errors=True)
        if name == "busy":
            result.row("busy: uploads still queued when the last 201 came (worker never idle)",
                       f"{queued}")
    labels = {"idle": "serve --no-worker", "busy": "serve (its worker busy)"}
    for name, (ceiling, ours_samples) in cases.items():
        _figures(result, f"{name}: ceiling, bare uvicorn receive + orjson.loads", ceiling)
        _figures(result, f"{name}: {labels[name]}: upload → 201", ours_samples)
        p50, top = median(ours_samples), median(ceiling)
        p99, top99 = percentile(ours_samples, 99), percentile(ceiling, 99)
        result.row(f"{name}: p50 ÷ ceiling p50, p99 ÷ ceiling p50",
                   f"{p50 / top:.2f}x, {p99 / top:.2f}x")
        passed = (p50 / top <= TARGET_RATIO and p50 * 1000 <= TARGET_MS
                  and p99 / top <= P99_RATIO)
        figure = f"p50 {ms(p50)}, p99 {ms(p99)} ({labels[name]}; ceiling p99 {ms(top99)})"
        result.targets.append(Target(f"accept_{name}", figure, p50 / top, passed))
    result.notes.append(
        f"accept targets: p50 ≤ {TARGET_RATIO}x the ceiling's p50 and ≤ {TARGET_MS:.0f} ms, p99 ≤ "
        f"{P99_RATIO:.0f}x the ceiling's p50, with the worker idle (`--no-worker`) and while the "
        "worker processes the uploads back to back (each 10k-item upload takes longer "
        "to process than to send, so it is busy throughout); each case has its own ceiling, "
        "interleaved with it.")
    return result


def _queued(data: Path) -> int:
    """Uploads not yet finished (queued or being processed), read from the data dir."""
    import sqlite3

    conn = sqlite3.connect(data / "catalog.db")
    try:
        row = conn.execute("SELECT count(*) FROM uploads WHERE status IN "
                           "('INQUEUE', 'INPROGRESS')").fetchone()
    finally:
        conn.close()
    inbox = sqlite3.connect(data / "catalog-inbox.db")
    try:
        waiting = inbox.execute("SELECT count(*) FROM inbox").fetchone()
    finally:
        inbox.close()
    return int(row[0]) + int(waiting[0])
