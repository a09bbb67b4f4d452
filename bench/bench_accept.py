"""`accept`: a 10k-item upload → 201 from a real `serve`, against a bare uvicorn receive + parse.

The ceiling is a bare ASGI app under the same uvicorn configuration (`uvicorn.run` defaults:
uvloop and httptools when installed) that receives the body and `orjson.loads` it, in its own
process, driven by the same httpx client (keep-alive) with the same body. Requests to the two
servers are interleaved so that load from other processes on the machine hits both alike.
Signing (botocore SigV4, a client-side cost) happens before each timed request.

The target is checked with `serve --no-worker`: in the embedded default the worker shares the
process (and its GIL) and SQLite's single writer, so an upload's 201 can wait for a whole
processing transaction to commit. The same run with the worker enabled is reported alongside.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
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

    data = fresh_dir("accept-no-worker")
    tenant = provision_data_dir(data, STORES)
    with Server(bare_argv(), logs / "accept-bare.log", ready_path="/") as bare, \
            Server(serve_argv("--no-worker"), logs / "accept-serve-no-worker.log",
                   env={"CATALOG_INGEST_DATA_DIR": str(data)}) as ours, \
            httpx.Client(timeout=60) as c1, httpx.Client(timeout=60) as c2:
        ceiling, no_worker = interleaved(
            [sender(c1, bare.url + "/upload", body, None),
             sender(c2, ours.url + "/v1/catalog/upload", body, tenant)], rounds)
    shutil.rmtree(data, ignore_errors=True)

    data = fresh_dir("accept-worker")
    tenant = provision_data_dir(data, STORES)
    with Server(serve_argv(), logs / "accept-serve-worker.log",
                env={"CATALOG_INGEST_DATA_DIR": str(data)}) as ours, \
            httpx.Client(timeout=60) as client:
        (with_worker,) = interleaved(
            [sender(client, ours.url + "/v1/catalog/upload", body, tenant)], rounds)
    shutil.rmtree(data, ignore_errors=True)

    _figures(result, "ceiling: bare uvicorn receive + orjson.loads", ceiling)
    _figures(result, "serve --no-worker: upload → 201", no_worker)
    _figures(result, "serve (1 worker busy): upload → 201", with_worker)
    p50, top = median(no_worker), median(ceiling)
    result.row("with-worker p50 ÷ ceiling p50", f"{median(with_worker) / top:.2f}x")
    figure = f"p50 {ms(p50)}, p99 {ms(percentile(no_worker, 99))} (--no-worker)"
    passed = p50 / top <= TARGET_RATIO and p50 * 1000 <= TARGET_MS
    result.targets.append(Target("accept", figure, p50 / top, passed))
    result.notes.append(
        f"accept target: p50 ≤ {TARGET_RATIO}x ceiling and ≤ {TARGET_MS:.0f} ms, checked on "
        "`serve --no-worker`; with the worker on, uploads queue faster than they are processed, "
        "so every 201 competes with a running processing transaction (GIL, SQLite writer).")
    return result
