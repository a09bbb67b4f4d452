"""The Merchant-Center Status resource as a service: token auth, catalog counts, rejection report.

Framework-free: the routes turn `MmcError` into the Errors body and call these for the rest.

Counts: `publishedCount` = live items of the store; `rejectedCount` = SKUs whose latest
submission was rejected and that have no live version. Counting a million live items takes
tens of milliseconds, so counts are cached per store under the retailer's catalog version
(latest sequence number and number of its DONE uploads, one index range): items and rejections
change only in the transaction that marks an upload DONE, so an unchanged version means
unchanged counts. The version is read before the counts (PostgreSQL's READ COMMITTED gives each
statement its own snapshot): counts can then only be newer than the version they are filed
under, which costs one needless recount, never a stale answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from catalog_ingest.api.mmc.render import (
    AUTHENTICATION_TOKEN_INVALID,
    INVALID_HEADER,
    INVALID_REPORT_URL,
    NOT_FOUND,
)
from catalog_ingest.crypto import presigned_url, verify_path
from catalog_ingest.engine.rejection_report import RejectedRow, build_csv, build_zip
from catalog_ingest.engine.reports import iso
from catalog_ingest.errors import AuthenticationFailed, CatalogIngestError
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, reads
from catalog_ingest.storage.admin import Store

BASE_PATH = "/shopping/v9.1/bmc"
_ID = re.compile(r"[0-9]{1,20}")
_DB_ID_MAX = 2**63 - 1  # BIGINT: larger ids cannot name a store
_CACHE_LIMIT = 10_000

MSG_TOKENS = "The AuthenticationToken or DeveloperToken header is missing or not valid."
MSG_NOT_FOUND = "The merchant or catalog does not exist, or is not yours."
MSG_CUSTOMER_PAIR = "The CustomerId header requires the CustomerAccountId header."
MSG_CUSTOMER_FORMAT = "The CustomerId and CustomerAccountId headers must be numeric ids."
MSG_REPORT_URL = "The report URL has expired or is not valid; get a new one from the status."


class MmcError(CatalogIngestError):
    """An answer of the Status resource other than 200: one of `render`'s error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CatalogStatus:
    store: Store
    published: int
    rejected: int


def report_path(merchant_id: int, catalog_id: int) -> str:
    return f"{BASE_PATH}/{merchant_id}/catalogs/{catalog_id}/rejection-report"


def check_customer_headers(customer_id: str | None, account_id: str | None) -> None:
    """`CustomerId` needs `CustomerAccountId`; both are optional numeric ids."""
    if customer_id is not None and account_id is None:
        raise MmcError(INVALID_HEADER, MSG_CUSTOMER_PAIR)
    for value in (customer_id, account_id):
        if value is not None and _parse_id(value) is None:
            raise MmcError(INVALID_HEADER, MSG_CUSTOMER_FORMAT)


def _parse_id(text: str) -> int | None:
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value < 2**64 else None


def _store_id_pair(merchant: str, catalog: str) -> tuple[int, int]:
    merchant_id, catalog_id = _parse_id(merchant), _parse_id(catalog)
    if merchant_id is None or catalog_id is None or max(merchant_id, catalog_id) > _DB_ID_MAX:
        raise MmcError(NOT_FOUND, MSG_NOT_FOUND)
    return merchant_id, catalog_id


class StatusService:
    """One process's Status resource: holds the per-store count cache."""

    def __init__(self, svc: Runtime, *, cache: bool = True) -> None:
        self.svc = svc
        self.use_cache = cache
        self._cache: dict[str, tuple[tuple[int, int], int, int]] = {}
        self._lock = threading.Lock()

    def authenticate(self, auth_token: str | None, developer_token: str | None) -> str:
        """The retailer of a valid, enabled token pair; else the 401 error."""
        if not auth_token or not developer_token:
            raise MmcError(AUTHENTICATION_TOKEN_INVALID, MSG_TOKENS)
        with self.svc.db.read() as conn:
            retailer_id = admin.retailer_for_mmc_tokens(conn, auth_token, developer_token)
            if retailer_id is None or not reads.retailer_enabled(conn, retailer_id):
                raise MmcError(AUTHENTICATION_TOKEN_INVALID, MSG_TOKENS)
        return retailer_id

    def status(self, retailer_id: str, merchant: str, catalog: str) -> CatalogStatus:
        """Counts of the caller's catalog; a catalog unknown or not the caller's is the 404."""
        merchant_id, catalog_id = _store_id_pair(merchant, catalog)
        with self.svc.db.read() as conn:
            store = reads.store_by_mmc_ids(conn, merchant_id, catalog_id)
            if store is None or store.retailer_id != retailer_id:
                raise MmcError(NOT_FOUND, MSG_NOT_FOUND)
            version = reads.catalog_version(conn, retailer_id)
            cached = self._cache.get(store.store_id) if self.use_cache else None
            if cached is not None and cached[0] == version:
                return CatalogStatus(store, cached[1], cached[2])
            published = reads.published_count(conn, store.store_id)
            rejected = reads.rejected_count(conn, store.store_id)
        if self.use_cache:
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[store.store_id] = (version, published, rejected)
        return CatalogStatus(store, published, rejected)

    def report_url(self, base_url: str, store: Store) -> str:
        settings = self.svc.settings
        base = (settings.public_url or base_url).rstrip("/")
        return presigned_url(base, report_path(store.merchant_id, store.catalog_id),
                             settings.secret_key, settings.report_link_ttl, time.time())

    def report(self, path: str, merchant: str, catalog: str, params: dict[str, str]) -> bytes:
        """The ZIP behind a genuine, unexpired link; an expired or altered link is the 400."""
        try:
            verify_path(self.svc.settings.secret_key, path, params, time.time())
        except AuthenticationFailed:
            raise MmcError(INVALID_REPORT_URL, MSG_REPORT_URL) from None
        merchant_id, catalog_id = _store_id_pair(merchant, catalog)
        with self.svc.db.read() as conn:
            store = reads.store_by_mmc_ids(conn, merchant_id, catalog_id)
            if store is None:
                raise MmcError(NOT_FOUND, MSG_NOT_FOUND)
            rejected = reads.rejected_rows(conn, store.store_id)
            uploaded = reads.latest_upload_time(conn, store.retailer_id, store.store_id)
        rows = (report_row(r) for r in rejected)
        body = build_csv(store.name, store.catalog_id, store.store_id, iso(uploaded) or "", rows)
        return build_zip(body)


def report_row(row: reads.RejectionRow) -> RejectedRow:
    """A stored rejection as its report row: every error message, each offending value once."""
    messages: list[str] = []
    values: list[str] = []
    for issue in row.issues:
        messages.append(str(issue.get("message", "")))
        value: Any = issue.get("value")
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if text not in values:
            values.append(text)
    return RejectedRow(row.item_sku, messages, values, row.item_name, row.product_category,
                       row.standard_price)
