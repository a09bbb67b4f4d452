"""The Merchant-Center Status resource as a service: token auth, catalog counts, rejection report.

Framework-free: the skin renders `MerchantCenterError` (its ``code`` is one of the codes below)
as the resource's Errors body, and the rest from the typed results.

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
from dataclasses import dataclass
from typing import Any, Final

from catalog_ingest import links
from catalog_ingest.engine.rejection_report import RejectedRow, build_csv, build_zip
from catalog_ingest.engine.reports import iso
from catalog_ingest.errors import AuthenticationFailed, MerchantCenterError
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin, reads
from catalog_ingest.storage.admin import Store

BASE_PATH = links.MMC_BASE_PATH

# Error codes of the resource (`Code` in an Errors body); the skin maps each to its status.
INVALID_QUERY_PARAMETER: Final = "InvalidQueryParameter"
INVALID_HEADER: Final = "InvalidHeader"
INVALID_REPORT_URL: Final = "InvalidReportUrl"
AUTHENTICATION_TOKEN_INVALID: Final = "AuthenticationTokenInvalid"
NOT_FOUND: Final = "NotFound"
INTERNAL_ERROR: Final = "InternalError"
REQUEST_TOO_LARGE: Final = "RequestEntityTooLarge"
_ID = re.compile(r"[0-9]{1,20}")
_DB_ID_MAX = 2**63 - 1  # BIGINT: larger ids cannot name a store
_CACHE_LIMIT = 10_000

MSG_TOKENS = "The AuthenticationToken or DeveloperToken header is missing or not valid."
MSG_NOT_FOUND = "The merchant or catalog does not exist, or is not yours."
MSG_CUSTOMER_PAIR = "The CustomerId header requires the CustomerAccountId header."
MSG_CUSTOMER_FORMAT = "The CustomerId and CustomerAccountId headers must be numeric ids."
MSG_REPORT_URL = "The report URL has expired or is not valid; get a new one from the status."


@dataclass(frozen=True)
class CatalogStatus:
    store: Store
    published: int
    rejected: int


def check_customer_headers(customer_id: str | None, account_id: str | None) -> None:
    """`CustomerId` needs `CustomerAccountId`; both are optional numeric ids."""
    if customer_id is not None and account_id is None:
        raise MerchantCenterError(INVALID_HEADER, MSG_CUSTOMER_PAIR)
    for value in (customer_id, account_id):
        if value is not None and _parse_id(value) is None:
            raise MerchantCenterError(INVALID_HEADER, MSG_CUSTOMER_FORMAT)


def _parse_id(text: str) -> int | None:
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value < 2**64 else None


def _store_id_pair(merchant: str, catalog: str) -> tuple[int, int]:
    merchant_id, catalog_id = _parse_id(merchant), _parse_id(catalog)
    if merchant_id is None or catalog_id is None or max(merchant_id, catalog_id) > _DB_ID_MAX:
        raise MerchantCenterError(NOT_FOUND, MSG_NOT_FOUND)
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
            raise MerchantCenterError(AUTHENTICATION_TOKEN_INVALID, MSG_TOKENS)
        with self.svc.db.read() as conn:
            retailer_id = admin.retailer_for_mmc_tokens(conn, auth_token, developer_token)
            if retailer_id is None or not reads.retailer_enabled(conn, retailer_id):
                raise MerchantCenterError(AUTHENTICATION_TOKEN_INVALID, MSG_TOKENS)
        return retailer_id

    def status(self, retailer_id: str, merchant: str, catalog: str) -> CatalogStatus:
        """Counts of the caller's catalog; a catalog unknown or not the caller's is the 404."""
        merchant_id, catalog_id = _store_id_pair(merchant, catalog)
        with self.svc.db.read() as conn:
            store = reads.store_by_mmc_ids(conn, merchant_id, catalog_id)
            if store is None or store.retailer_id != retailer_id:
                raise MerchantCenterError(NOT_FOUND, MSG_NOT_FOUND)
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
        path = links.rejection_report_path(store.merchant_id, store.catalog_id)
        return links.signed_url(self.svc.settings, base_url, path)

    def report(self, path: str, merchant: str, catalog: str, params: dict[str, str]) -> bytes:
        """The ZIP behind a genuine, unexpired link; an expired or altered link is the 400."""
        try:
            links.check(self.svc.settings, path, params)
        except AuthenticationFailed:
            raise MerchantCenterError(INVALID_REPORT_URL, MSG_REPORT_URL) from None
        merchant_id, catalog_id = _store_id_pair(merchant, catalog)
        with self.svc.db.read() as conn:
            store = reads.store_by_mmc_ids(conn, merchant_id, catalog_id)
            if store is None:
                raise MerchantCenterError(NOT_FOUND, MSG_NOT_FOUND)
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
