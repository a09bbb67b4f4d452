"""CatalogClient: the synchronous, thread-safe client of the JWO Catalog API."""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from catalog_ingest.client import _protocol as proto
from catalog_ingest.client._auth import SigV4Signer, resolve_credentials
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
from catalog_ingest.client._retry import RetryPolicy, attempted

T = TypeVar("T")
DEFAULT_REGION = "us-east-1"


def default_region(region: str | None) -> str:
    """``region``, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1."""
    return (
        region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION
    )


class _ClientBase:
    """Configuration both clients share: signing, limiter, retry policy, clock and jitter."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str | None,
        credentials: Any,
        access_key: str | None,
        secret_key: str | None,
        session_token: str | None,
        profile: str | None,
        rate_limit: float | None,
        max_attempts: int,
        retry_policy: RetryPolicy | None,
        limiter: RateLimiter | None,
        clock: Callable[[], float],
        jitter: Callable[[], float],
    ) -> None:
        creds = resolve_credentials(
            credentials,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            profile=profile,
        )
        self.region = default_region(region)
        self._protocol = proto.Protocol(endpoint, SigV4Signer(creds, self.region))
        self.endpoint = self._protocol.base
        self.retry_policy = retry_policy or RetryPolicy(max_attempts=max_attempts)
        if limiter is None and rate_limit is not None:
            limiter = RateLimiter.per_second(rate_limit, clock=clock)
        #: Shared by every call of this client (pass it to another client to share the budget).
        self.limiter = limiter
        self._jitter = jitter

    def _retry_delay(self, attempt: int, error: CatalogClientError) -> float | None:
        """The wait before the next attempt after ``error`` (None: give up), told to the hook."""
        error.attempts = attempt
        delay = self.retry_policy.delay(attempt, error, self._jitter())
        attempted(self.retry_policy, attempt, error, delay)
        return delay

    def _succeeded(self, attempt: int) -> None:
        attempted(self.retry_policy, attempt, None, None)

    def with_retry(self, policy: RetryPolicy) -> Self:
        """A view of this client whose calls retry by ``policy`` (and tell its ``on_attempt``).

        It shares the connection pool, the rate limiter and the credentials: close the
        original client, not the view."""
        view = copy.copy(self)
        view.retry_policy = policy
        return view


class CatalogClient(_ClientBase):
    """Client of the JWO Catalog API (and of this service's extensions).

    Requests are SigV4-signed (service ``execute-api``) with explicit credentials or those of
    the botocore chain. All calls of one client, from any number of threads, share one rate
    limiter (``rate_limit`` calls per second, None for none). Throttled (429), the
    "please retry" 500 and connection failures are retried up to ``max_attempts`` times in
    all, with full-jitter exponential backoff and never sooner than Retry-After; nothing else
    is retried. ``sleep``, ``clock`` and ``jitter`` exist for tests.
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
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], object] = time.sleep,
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
        self._http = httpx.Client(transport=transport, timeout=timeout)

    # --- plumbing ---------------------------------------------------------------------------

    def _execute(self, call: proto.Call[T]) -> T:
        attempt = 1
        while True:
            try:
                result = self._attempt(call)
            except CatalogClientError as error:
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise
            else:
                self._succeeded(attempt)
                return result
            self._sleep(delay)
            attempt += 1

    def _attempt(self, call: proto.Call[T]) -> T:
        if self.limiter is not None:
            self.limiter.acquire(self._sleep)
        request = self._protocol.request(call)
        try:
            response = self._http.send(request)
        except httpx.TransportError as error:
            raise proto.transport_failure(error) from error
        return call.parse(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CatalogClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the API ----------------------------------------------------------------------------

    def upload(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> UploadAccepted:
        """POST /upload: at most 10,000 items (seed 002's fields; unknown ones become warnings).

        Every attempt of one call carries the same Idempotency-Key (a fresh UUID when none is
        given), so a retry after a lost 201 returns the first upload instead of a second one.
        """
        return self.upload_raw(proto.encode_upload(items), idempotency_key=idempotency_key)

    def upload_raw(self, body: bytes, *, idempotency_key: str | None = None) -> UploadAccepted:
        """POST /upload with ``body`` already JSON-encoded (``{"catalogItems": [...]}``)."""
        key = idempotency_key or proto.new_idempotency_key()
        return self._execute(proto.upload_raw(body, key))

    def get_status(self, ingestion_id: str) -> UploadStatus:
        """POST /getCatalogUploadStatus; a DONE or FATAL status carries a fresh report link."""
        return self._execute(proto.get_status(ingestion_id))

    def archive(
        self,
        item_skus: Sequence[str],
        all_applicable_stores: Sequence[str],
        *,
        idempotency_key: str | None = None,
    ) -> UploadAccepted:
        """POST /archive: deactivate SKUs in every store (which must all be listed)."""
        key = idempotency_key or proto.new_idempotency_key()
        return self._execute(proto.archive(item_skus, all_applicable_stores, key))

    def cancel(self, ingestion_id: str) -> str:
        """Cancel an INQUEUE upload; returns "CANCELLED" (also when it already was)."""
        return self._execute(proto.cancel(ingestion_id))

    def list_uploads(
        self,
        max_results: int | None = None,
        next_token: str | None = None,
        processing_status: str | None = None,
    ) -> UploadPage:
        """One page of the retailer's uploads, newest first."""
        return self._execute(proto.list_uploads(max_results, next_token, processing_status))

    def iter_uploads(
        self, *, page_size: int | None = None, processing_status: str | None = None
    ) -> Iterator[CatalogUpload]:
        """Every upload, newest first, fetching pages as needed."""
        token: str | None = None
        while True:
            page = self.list_uploads(page_size, token, processing_status)
            yield from page.catalog_uploads
            token = proto.next_page_token(token, page.next_token)
            if token is None:
                return

    def get_items(self, store_id: str, item_skus: Sequence[str]) -> list[CatalogItem]:
        """The stored items (archived ones too) among ``item_skus``; missing SKUs left out.
        More than 100 SKUs are asked for in several calls."""
        found: list[CatalogItem] = []
        for chunk in proto.sku_chunks(item_skus):
            items: list[CatalogItem] = self._execute(proto.get_items(store_id, chunk))
            found.extend(items)
        return found

    def list_items(
        self, store_id: str, max_results: int | None = None, next_token: str | None = None
    ) -> ItemPage:
        """One page of a store's items, in SKU order."""
        return self._execute(proto.list_items(store_id, max_results, next_token))

    def iter_items(self, store_id: str, *, page_size: int | None = None) -> Iterator[CatalogItem]:
        """Every item of a store, in SKU order, fetching pages as needed."""
        token: str | None = None
        while True:
            page = self.list_items(store_id, page_size, token)
            yield from page.catalog_items
            token = proto.next_page_token(token, page.next_token)
            if token is None:
                return

    def lookup_barcode(self, store_id: str, external_product_id: str) -> CatalogItem | None:
        """The active item a scanner reading this barcode finds, or None."""
        return self._execute(proto.lookup_barcode(store_id, external_product_id))

    def download_report(self, url: str) -> dict[str, Any]:
        """GET a report's pre-signed link (no signing); ReportLinkExpired once it expired."""
        return self._execute(proto.download_report(url))
