"""AsyncCatalogClient: the asyncio client of the JWO Catalog API, mirroring CatalogClient."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from catalog_ingest.client import _protocol as proto
from catalog_ingest.client._client import _ClientBase
from catalog_ingest.client._exceptions import CatalogClientError
from catalog_ingest.client._limiter import RateLimiter
from catalog_ingest.client._models import (
    CatalogItem,
    CatalogUpload,
    ItemPage,
    UploadAccepted,
    UploadPage,
    UploadStatus,
)
from catalog_ingest.client._retry import RetryPolicy

T = TypeVar("T")


class AsyncCatalogClient(_ClientBase):
    """Asyncio twin of :class:`CatalogClient`: same arguments, same results and errors.

    The rate limiter is awaited, never blocking the event loop, and is shared by all tasks
    using the client; a credential refresh (which may do network I/O) runs in a thread.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        region: str | None = None,
        credentials: Any = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        rate_limit: float | None = 10.0,
        max_attempts: int = 5,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            endpoint,
            region=region,
            credentials=credentials,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            profile=profile,
            rate_limit=rate_limit,
            max_attempts=max_attempts,
            retry_policy=retry_policy,
            limiter=limiter,
            clock=clock,
            jitter=jitter,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    # --- plumbing ---------------------------------------------------------------------------

    async def _execute(self, call: proto.Call[T]) -> T:
        attempt = 1
        while True:
            try:
                result = await self._attempt(call)
            except CatalogClientError as error:
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise
            else:
                self._succeeded(attempt)
                return result
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, call: proto.Call[T]) -> T:
        if self.limiter is not None:
            await self.limiter.acquire_async(self._sleep)
        if self._protocol.sign_may_block(call):
            request = self._protocol.request(call, sign=False)
            await asyncio.to_thread(self._protocol.signer.sign, request)
        else:
            request = self._protocol.request(call)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as error:
            raise proto.transport_failure(error) from error
        return call.parse(response)

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncCatalogClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- the API (see CatalogClient for each method's contract) -----------------------------

    async def upload(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> UploadAccepted:
        body = proto.encode_upload(items)
        return await self.upload_raw(body, idempotency_key=idempotency_key)

    async def upload_raw(
        self, body: bytes, *, idempotency_key: str | None = None
    ) -> UploadAccepted:
        key = idempotency_key or proto.new_idempotency_key()
        return await self._execute(proto.upload_raw(body, key))

    async def get_status(self, ingestion_id: str) -> UploadStatus:
        return await self._execute(proto.get_status(ingestion_id))

    async def archive(
        self,
        item_skus: Sequence[str],
        all_applicable_stores: Sequence[str],
        *,
        idempotency_key: str | None = None,
    ) -> UploadAccepted:
        key = idempotency_key or proto.new_idempotency_key()
        return await self._execute(proto.archive(item_skus, all_applicable_stores, key))

    async def cancel(self, ingestion_id: str) -> str:
        return await self._execute(proto.cancel(ingestion_id))

    async def list_uploads(
        self,
        max_results: int | None = None,
        next_token: str | None = None,
        processing_status: str | None = None,
    ) -> UploadPage:
        return await self._execute(proto.list_uploads(max_results, next_token, processing_status))

    async def iter_uploads(
        self, *, page_size: int | None = None, processing_status: str | None = None
    ) -> AsyncIterator[CatalogUpload]:
        token: str | None = None
        while True:
            page = await self.list_uploads(page_size, token, processing_status)
            for upload in page.catalog_uploads:
                yield upload
            token = proto.next_page_token(token, page.next_token)
            if token is None:
                return

    async def get_items(self, store_id: str, item_skus: Sequence[str]) -> list[CatalogItem]:
        found: list[CatalogItem] = []
        for chunk in proto.sku_chunks(item_skus):
            items: list[CatalogItem] = await self._execute(proto.get_items(store_id, chunk))
            found.extend(items)
        return found

    async def list_items(
        self, store_id: str, max_results: int | None = None, next_token: str | None = None
    ) -> ItemPage:
        return await self._execute(proto.list_items(store_id, max_results, next_token))

    async def iter_items(
        self, store_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[CatalogItem]:
        token: str | None = None
        while True:
            page = await self.list_items(store_id, page_size, token)
            for item in page.catalog_items:
                yield item
            token = proto.next_page_token(token, page.next_token)
            if token is None:
                return

    async def lookup_barcode(self, store_id: str, external_product_id: str) -> CatalogItem | None:
        return await self._execute(proto.lookup_barcode(store_id, external_product_id))

    async def download_report(self, url: str) -> dict[str, Any]:
        return await self._execute(proto.download_report(url))
