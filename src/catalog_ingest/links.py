"""The service's pre-signed URLs: processing-report links and rejection-report links.

One place builds and checks them for every user (the JWO status answer, notifications, the
Merchant-Center status, the portal), with `catalog_ingest.crypto`'s ``link/v1`` MAC. The host
part is ``CATALOG_INGEST_PUBLIC_URL`` when set, else the base the caller gives (the request's
own address, or for a notification the address ``serve`` listens on).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from catalog_ingest import crypto
from catalog_ingest.settings import Settings

MMC_BASE_PATH = "/shopping/v9.1/bmc"


def report_path(ingestion_id: str) -> str:
    return f"/v1/reports/{ingestion_id}.json"


def rejection_report_path(merchant_id: int, catalog_id: int) -> str:
    return f"{MMC_BASE_PATH}/{merchant_id}/catalogs/{catalog_id}/rejection-report"


def signed_url(settings: Settings, base_url: str, path: str, now: float | None = None) -> str:
    """``path`` under the public base, valid for the report link TTL from ``now``."""
    base = (settings.public_url or base_url).rstrip("/")
    return crypto.presigned_url(base, path, settings.secret_key, settings.report_link_ttl,
                                time.time() if now is None else now)


def report_url(settings: Settings, base_url: str, ingestion_id: str,
               now: float | None = None) -> str:
    return signed_url(settings, base_url, report_path(ingestion_id), now)


def check(settings: Settings, path: str, params: Mapping[str, str]) -> None:
    """Accept a genuine, unexpired link to ``path``; else `LinkInvalid` / `LinkExpired`."""
    crypto.verify_path(settings.secret_key, path, params, time.time())
