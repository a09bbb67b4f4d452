"""Idempotency keys expire: after the TTL the same key makes a new upload (and frees the key)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import intake
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables as t
from tests.support.tenants import Tenant


def _accept(svc: Runtime, tenant: Tenant, body: bytes) -> str:
    return intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD, body=body,
                         item_count=1, store_ids=["store-01"], idempotency_key="key-1")


def test_same_key_within_ttl_replays(svc: Runtime, tenant: Tenant) -> None:
    assert _accept(svc, tenant, b"{}") == _accept(svc, tenant, b"{}")


def test_expired_key_is_released_and_reused(svc: Runtime, tenant: Tenant) -> None:
    svc.settings = dataclasses.replace(svc.settings, idempotency_ttl=-1)
    first = _accept(svc, tenant, b"{}")
    second = _accept(svc, tenant, b"{}")
    assert first != second
    with svc.db.read() as conn:
        rows = conn.execute(select(t.uploads.c.ingestion_id, t.uploads.c.idempotency_key))
        keys = dict(rows.all())
    assert keys == {first: None, second: "key-1"}
