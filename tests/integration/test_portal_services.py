"""The portal's service layer on a real database: accounts, log-in limits, queries, key use."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.domain.status import UploadKind
from catalog_ingest.engine import accounts, intake, key_usage, portal_queries
from catalog_ingest.engine.accounts import Accounts, Role
from catalog_ingest.errors import Conflict, InvalidInput, NotFound, UnknownIngestion
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from catalog_ingest.storage import portal as repo
from catalog_ingest.storage.portal import UploadFilter
from catalog_ingest.storage.uploads import Upload
from tests.support.tenants import Tenant

PASSWORD = "correct horse battery"


def test_passwords_are_argon2id_and_rules_hold(svc: Runtime, tenant: Tenant) -> None:
    user = accounts.create_user(svc, tenant.retailer_id, " Ann@Example.COM ", PASSWORD, "viewer")
    assert user.email == "ann@example.com" and user.role is Role.VIEWER
    with svc.db.read() as conn:
        row = repo.user_by_email(conn, "ann@example.com")
    assert row is not None and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    with pytest.raises(Conflict):
        accounts.create_user(svc, tenant.retailer_id, "ANN@example.com", PASSWORD)
    with pytest.raises(InvalidInput, match="at least 8"):
        accounts.create_user(svc, tenant.retailer_id, "b@example.com", "short")
    with pytest.raises(InvalidInput, match="role"):
        accounts.create_user(svc, tenant.retailer_id, "b@example.com", PASSWORD, "owner")
    with pytest.raises(InvalidInput, match="e-mail"):
        accounts.create_user(svc, tenant.retailer_id, "not-an-address", PASSWORD)
    with pytest.raises(NotFound):
        accounts.create_user(svc, "ret-nope", "c@example.com", PASSWORD)


def test_login_by_account_then_refused(svc: Runtime, tenant: Tenant) -> None:
    accounts.create_user(svc, tenant.retailer_id, "ed@example.com", PASSWORD)
    service = Accounts(svc)
    assert service.login("ED@example.com", PASSWORD, "10.0.0.1").user is not None
    outcomes = [service.login("ed@example.com", "wrong", "10.0.0.1") for _ in range(5)]
    assert [o.delay > 0 for o in outcomes] == [False, False, True, True, True]
    assert outcomes[-1].refused and "refused for 15 minutes" in outcomes[-1].message
    right = service.login("ed@example.com", PASSWORD, "10.0.0.2")
    assert right.user is None and right.refused  # locked whatever the address
    assert right.message.startswith("Too many failed log-in attempts for this account")


def test_login_limit_per_address(svc: Runtime, tenant: Tenant) -> None:
    settings = replace(svc.settings, login_failures_per_address="3/15 minutes")
    service = Accounts(replace(svc, settings=settings))
    for n in range(3):
        assert not service.login(f"user{n}@example.com", "x" * 8, "10.9.9.9").refused
    refused = service.login("another@example.com", "x" * 8, "10.9.9.9")
    assert refused.refused and "for your address" in refused.message
    assert not service.login("another@example.com", "x" * 8, "10.9.9.10").refused


def test_a_disabled_retailers_users_cannot_log_in(svc: Runtime, tenant: Tenant) -> None:
    accounts.create_user(svc, tenant.retailer_id, "off@example.com", PASSWORD)
    with svc.db.write() as conn:
        admin.set_retailer_enabled(conn, tenant.retailer_id, False)
    assert Accounts(svc).login("off@example.com", PASSWORD, "10.0.0.3").user is None


@given(role=st.sampled_from(list(Role)), needed=st.sampled_from(list(Role)))
def test_roles_are_ordered(role: Role, needed: Role) -> None:
    rank = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
    assert role.allows(needed) == (rank[role] >= rank[needed])


def _upload(status: str, submitted: float, started: float | None = None) -> Upload:
    return Upload(1, "id", "r", "UPLOAD", status, 1, ["s"], "k", submitted, started, None, 0,
                  None, None, None, None, None, "h")


@given(waited=st.floats(0, 10_000), workers=st.integers(0, 3),
       status=st.sampled_from(["INQUEUE", "INPROGRESS", "DONE", "FATAL", "CANCELLED"]))
def test_stuck_only_when_waiting_with_no_worker(waited: float, workers: int, status: str) -> None:
    now = 1_000_000.0
    upload = _upload(status, now - waited, now - waited if status == "INPROGRESS" else None)
    reason = portal_queries.stuck_reason(upload, now, workers, 180.0)
    expected = status in ("INQUEUE", "INPROGRESS") and workers == 0 and waited >= 180.0
    assert (reason is not None) == expected
    if reason is not None:
        assert "worker" in reason


def test_uploads_by_source_and_tenant(svc: Runtime, tenant: Tenant, other_tenant: Tenant) -> None:
    body = b'{"catalogItems": []}'
    ids = {}
    for source in ("api", "push", "portal"):
        ids[source] = intake.accept(svc, retailer_id=tenant.retailer_id, kind=UploadKind.UPLOAD,
                                    body=body, item_count=0, store_ids=tenant.stores[:1],
                                    idempotency_key=None, source=source,
                                    batch_id="b1" if source == "portal" else None)
    theirs = intake.accept(svc, retailer_id=other_tenant.retailer_id,
                           kind=UploadKind.UPLOAD, body=body, item_count=0,
                           store_ids=other_tenant.stores, idempotency_key=None)
    page = portal_queries.list_uploads(svc, tenant.retailer_id, UploadFilter())
    assert [v.upload.ingestion_id for v in page.views] == [ids["portal"], ids["push"], ids["api"]]
    assert page.next_before is None
    pushed = portal_queries.list_uploads(svc, tenant.retailer_id, UploadFilter(source="push"))
    assert [v.upload.ingestion_id for v in pushed.views] == [ids["push"]]
    batch = portal_queries.list_uploads(svc, tenant.retailer_id, UploadFilter(batch_id="b1"))
    assert [v.upload.batch_id for v in batch.views] == ["b1"]
    first = portal_queries.list_uploads(svc, tenant.retailer_id, UploadFilter(), limit=2)
    assert first.next_before is not None
    rest = portal_queries.list_uploads(svc, tenant.retailer_id, UploadFilter(),
                                       before=first.next_before, limit=2)
    assert [v.upload.ingestion_id for v in rest.views] == [ids["api"]]
    later = portal_queries.list_uploads(svc, tenant.retailer_id,
                                        UploadFilter(submitted_from=time.time() + 60))
    assert later.views == []
    with pytest.raises(UnknownIngestion):
        portal_queries.upload_view(svc, tenant.retailer_id, theirs)
    with pytest.raises(UnknownIngestion):
        portal_queries.cancel_upload(svc, tenant.retailer_id, theirs)


def test_api_user_agent_decides_the_source() -> None:
    assert intake.upload_source("catalog-ingest/0.1.0") == "push"
    assert intake.upload_source("curl/8.5") == "api"
    assert intake.upload_source(None) == "api"


def test_key_use_is_written_at_most_once_a_minute(svc: Runtime, tenant: Tenant) -> None:
    def last_used() -> float | None:
        with svc.db.read() as conn:
            keys = repo.retailer_keys(conn, tenant.retailer_id)
        return keys[0].last_used_at

    assert last_used() is None
    key_usage.note_use(svc, tenant.access_key_id, None, now=1000.0)
    assert last_used() == 1000.0
    key_usage.note_use(svc, tenant.access_key_id, None, now=1030.0)  # a stale read elsewhere
    assert last_used() == 1000.0
    key_usage.note_use(svc, tenant.access_key_id, 1000.0, now=1061.0)
    assert last_used() == 1061.0


@pytest.mark.redis
def test_login_failures_are_shared_through_redis(svc: Runtime, tenant: Tenant) -> None:
    from tests.api.test_jwo_limits import redis_url

    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"  # a fresh key in the shared Redis
    accounts.create_user(svc, tenant.retailer_id, email, PASSWORD)
    settings = replace(svc.settings, redis_url=redis_url())
    one, two = Accounts(replace(svc, settings=settings)), Accounts(replace(svc, settings=settings))
    for service in (one, two, one, two, one):  # two processes, one count
        service.login(email, "wrong-password", f"10.1.{uuid.uuid4().int % 250}.1")
    assert two.login(email, PASSWORD, "10.2.0.1").refused


def test_the_signed_request_key_lookup_carries_the_last_use(svc: Runtime, tenant: Tenant) -> None:
    """Without it every signed request would write the key's last use (a write transaction per
    status poll): the once-a-minute check needs the value read with the key."""
    assert admin.lookup_key(svc.db, svc.settings.secret_key, tenant.access_key_id) is not None
    key_usage.note_use(svc, tenant.access_key_id, None, now=time.time())
    found = admin.lookup_key(svc.db, svc.settings.secret_key, tenant.access_key_id)
    assert found is not None and found.last_used_at is not None
    assert time.time() - found.last_used_at < key_usage.RESOLUTION_SECONDS
