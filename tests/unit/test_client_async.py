"""Unit tests of AsyncCatalogClient: the same contract as the sync client, on asyncio."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from botocore.credentials import RefreshableCredentials

from catalog_ingest import client as sdk

T = TypeVar("T")
ENDPOINT = "https://catalog.example.com"
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ITEM = {
    "item_sku": "A-1",
    "external_product_id": "4006381333931",
    "item_name": "P",
    "store_id": "s",
}
RETRY_500 = "Exception encountered while processing the request, please retry again."


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def check_signature(request: httpx.Request, secrets: dict[str, str]) -> str:
    """Independent SigV4 check (paths and bodies as the SDK sends them; no query)."""
    fields = dict(p.strip().split("=", 1) for p in request.headers["authorization"][17:].split(","))
    key_id, date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    headers = "".join(f"{h}:{request.headers[h].strip()}\n" for h in signed)
    canonical = "\n".join(
        [request.method, request.url.path, "", headers, ";".join(signed),
         hashlib.sha256(request.content).hexdigest()]
    )  # fmt: skip
    scope = f"{date}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{request.headers['x-amz-date']}\n{scope}\n{digest}"
    key = ("AWS4" + secrets[key_id]).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == fields["Signature"]
    return key_id


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"x-amzn-RequestId": "r-9", **(headers or {})})


class FakeApi:
    """Scripted answers; every signed request is verified."""

    def __init__(self, *script: httpx.Response | Exception, default: Any = None) -> None:
        self.script = list(script)
        self.default = default
        self.requests: list[httpx.Request] = []
        self.key_ids: list[str] = []
        self.secrets = {KEY: SECRET}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "authorization" in request.headers:
            self.key_ids.append(check_signature(request, self.secrets))
        answer = self.script.pop(0) if self.script else self.default
        if isinstance(answer, Exception):
            raise answer
        assert answer is not None, f"unexpected request to {request.url}"
        return answer


class FakeTime:
    """A clock moved only by sleeping; sleeping yields to the loop like asyncio.sleep."""

    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def make_client(api: FakeApi, fake: FakeTime | None = None, **kw: Any) -> sdk.AsyncCatalogClient:
    fake = fake or FakeTime()
    options: dict[str, Any] = {
        "access_key": KEY,
        "secret_key": SECRET,
        "transport": httpx.MockTransport(api),
        "sleep": fake.sleep,
        "clock": fake.clock,
        "jitter": lambda: 1.0,
        **kw,
    }
    return sdk.AsyncCatalogClient(ENDPOINT, **options)


def test_upload_is_signed_and_returns_the_ingestion_id() -> None:
    api = FakeApi(reply(201, {"ingestionId": "id-1", "unknown": 1}))

    async def scenario() -> sdk.UploadAccepted:
        async with make_client(api) as client:
            return await client.upload([ITEM], idempotency_key="k-1")

    assert run(scenario()) == sdk.UploadAccepted("id-1")
    (request,) = api.requests
    assert json.loads(request.content) == {"catalogItems": [ITEM]}
    assert request.headers["idempotency-key"] == "k-1" and api.key_ids == [KEY]


def test_throttling_is_retried_honouring_retry_after() -> None:
    api = FakeApi(
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "4"}),
        reply(500, {"errorMsg": RETRY_500}),
        httpx.ConnectError("refused"),
        reply(201, {"ingestionId": "id-1"}),
    )
    fake = FakeTime()
    accepted = run(make_client(api, fake, jitter=lambda: 0.5).upload_raw(b'{"catalogItems":[]}'))
    assert accepted.ingestion_id == "id-1"
    assert fake.sleeps == [4.0, 0.5, 1.0]
    assert len({r.headers["idempotency-key"] for r in api.requests}) == 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, {"errorMsg": "Exception encountered while processing the request"}, sdk.ServerError),
        (400, {"message": "Invalid request body"}, sdk.InvalidRequestBody),
        (403, {"message": "Missing Authentication Token"}, sdk.MissingAuthenticationToken),
        (400, {"errorMsg": "API invoked with Invalid parameter"}, sdk.UnknownIngestion),
    ],
)
def test_other_failures_raise_at_once(
    status: int, body: dict[str, str], expected: type[sdk.ApiError]
) -> None:
    api = FakeApi(default=reply(status, body))
    fake = FakeTime()
    with pytest.raises(expected) as info:
        run(make_client(api, fake).get_status("id-1"))
    assert type(info.value) is expected and info.value.request_id == "r-9"
    assert len(api.requests) == 1 and fake.sleeps == []


def test_exhausted_retries_raise_the_last_error() -> None:
    api = FakeApi(default=httpx.ReadTimeout("slow"))
    with pytest.raises(sdk.ConnectionFailed) as info:
        run(make_client(api, max_attempts=3).get_status("id-1"))
    assert info.value.attempts == 3 and len(api.requests) == 3


def test_limiter_keeps_many_tasks_within_the_rate() -> None:
    fake = FakeTime()
    granted: list[float] = []
    late: list[float] = []

    class Recording(sdk.RateLimiter):
        async def acquire_async(
            self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
        ) -> float:
            slot = await super().acquire_async(sleep)
            granted.append(slot)
            late.append(fake.clock() - slot)
            return slot

    script = [reply(429, {"message": "Too Many Requests"}, {"Retry-After": "1"})] * 3
    api = FakeApi(*script, default=reply(200, {"processingStatus": "DONE"}))
    client = make_client(api, fake, limiter=Recording(10, clock=fake.clock))

    async def scenario() -> None:
        await asyncio.gather(*(client.get_status(str(i)) for i in range(57)))

    run(scenario())
    assert len(api.requests) == len(granted) == 60  # retries go through the limiter too
    ordered = sorted(granted)
    assert all(ordered[i] - ordered[i - 10] >= 1.0 for i in range(10, len(ordered)))
    assert min(late) >= 0  # no task went before its slot


def test_limiter_waits_without_blocking_the_event_loop() -> None:
    limiter = sdk.RateLimiter(2, period=0.004)  # real clock, a few milliseconds in all
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def scenario() -> list[float]:
        stop = asyncio.Event()
        tick_task = asyncio.create_task(ticker(stop))
        slots = await asyncio.gather(*(limiter.acquire_async() for _ in range(8)))
        stop.set()
        await tick_task
        return list(slots)

    slots = sorted(run(scenario()))
    assert ticks > 1  # the loop ran other tasks while callers waited
    assert all(slots[i] - slots[i - 2] >= 0.004 - 1e-9 for i in range(2, 8))


def test_one_limiter_serves_threads_and_tasks_together() -> None:
    fake_now = [0.0]
    limiter = sdk.RateLimiter(3, clock=lambda: fake_now[0])

    async def advance(seconds: float) -> None:
        fake_now[0] += seconds

    def advance_sync(seconds: float) -> None:
        fake_now[0] += seconds

    async def scenario() -> list[float]:
        return list(await asyncio.gather(*(limiter.acquire_async(advance) for _ in range(5))))

    slots = run(scenario()) + [limiter.acquire(advance_sync) for _ in range(4)]
    assert all(slots[i] - slots[i - 3] >= 1.0 for i in range(3, len(slots)))


def test_refresh_due_credentials_are_signed_off_the_event_loop() -> None:
    issued = iter(["AKID1", "AKID2", "AKID3"])
    threads: list[str] = []

    def refresh() -> dict[str, str]:
        threads.append(threading.current_thread().name)
        expiry = datetime.now(UTC) + timedelta(minutes=1)
        return {"access_key": next(issued), "secret_key": SECRET, "token": "t",
                "expiry_time": expiry.isoformat()}  # fmt: skip

    creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    api = FakeApi(default=reply(200, {"processingStatus": "DONE"}))
    api.secrets.update({"AKID1": SECRET, "AKID2": SECRET, "AKID3": SECRET})
    client = make_client(api, access_key=None, secret_key=None, credentials=creds)

    async def scenario() -> None:
        await client.get_status("a")
        await client.get_status("b")
        await client.close()

    run(scenario())
    assert api.key_ids == ["AKID2", "AKID3"]
    assert all(name != "MainThread" for name in threads[1:])


def test_paging_lookup_cancel_and_report() -> None:
    item = {**ITEM, "status": "ACTIVE", "newAttribute": [1]}
    api = FakeApi(
        reply(200, {"catalogUploads": [{"ingestionId": "a", "processingStatus": "DONE"}],
                    "nextToken": "t"}),
        reply(200, {"catalogUploads": [{"ingestionId": "b", "processingStatus": "FATAL"}]}),
        reply(200, {"catalogItems": [item], "nextToken": "n"}),
        reply(200, {"catalogItems": []}),
        reply(404, {"errorMsg": "No catalog item has this barcode in this store"}),
        reply(200, {"processingStatus": "CANCELLED"}),
        reply(200, {"catalogItems": [item]}),
        reply(200, {"ingestionId": "a", "itemResults": []}),
        reply(403, {"message": "Request has expired"}),
    )  # fmt: skip
    client = make_client(api)

    async def scenario() -> dict[str, Any]:
        uploads = [u.ingestion_id async for u in client.iter_uploads(processing_status="DONE")]
        items = [i async for i in client.iter_items("s", page_size=1)]
        return {
            "uploads": uploads,
            "extra": items[0].extra,
            "lookup": await client.lookup_barcode("s", "0000"),
            "cancel": await client.cancel("a"),
            "get": len(await client.get_items("s", ["A-1"])),
            "report": await client.download_report("https://r.example/x?sig=1"),
        }

    result = run(scenario())
    assert result == {
        "uploads": ["a", "b"],
        "extra": {"newAttribute": [1]},
        "lookup": None,
        "cancel": "CANCELLED",
        "get": 1,
        "report": {"ingestionId": "a", "itemResults": []},
    }
    with pytest.raises(sdk.ReportLinkExpired):
        run(client.download_report("https://r.example/x?sig=1"))
    assert "authorization" not in api.requests[-1].headers


def test_archive_and_list_pages() -> None:
    api = FakeApi(
        reply(201, {"ingestionId": "z"}),
        reply(200, {"catalogUploads": []}),
        reply(200, {"catalogItems": [ITEM], "nextToken": "n2"}),
    )
    client = make_client(api)

    async def scenario() -> tuple[Any, ...]:
        return (
            await client.archive(["A-1"], ["s"]),
            await client.list_uploads(max_results=5),
            await client.list_items("s", next_token="n1"),
        )

    archived, uploads, items = run(scenario())
    assert archived.ingestion_id == "z" and uploads.next_token is None
    assert items.next_token == "n2" and items.catalog_items[0].store_id == "s"
    assert [json.loads(r.content) for r in api.requests] == [
        {"itemSkus": ["A-1"], "allApplicableStores": ["s"]},
        {"maxResults": 5},
        {"store_id": "s", "nextToken": "n1"},
    ]


def test_the_retry_hook_hears_every_attempt() -> None:
    api = FakeApi(
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "4"}),
        httpx.ConnectError("refused"),
        reply(201, {"ingestionId": "id-1"}),
    )
    heard: list[tuple[int, str | None, float | None]] = []
    policy = sdk.RetryPolicy(max_attempts=5, on_attempt=lambda n, error, delay: heard.append(
        (n, type(error).__name__ if error else None, delay)))
    client = make_client(api, jitter=lambda: 0.5)
    run(client.with_retry(policy).upload_raw(b'{"catalogItems":[]}'))
    assert heard == [(1, "Throttled", 4.0), (2, "ConnectionFailed", 0.5), (3, None, None)]
    assert client.retry_policy.on_attempt is None  # the view did not change the client


def test_the_retry_hook_hears_the_attempt_given_up_on() -> None:
    api = FakeApi(default=reply(500, {"errorMsg": RETRY_500}))
    heard: list[tuple[int, float | None]] = []
    policy = sdk.RetryPolicy(max_attempts=2, on_attempt=lambda n, _, delay: heard.append(
        (n, delay)))
    with pytest.raises(sdk.RetryableServerError):
        run(make_client(api).with_retry(policy).get_status("id-1"))
    assert heard == [(1, 0.5), (2, None)]
