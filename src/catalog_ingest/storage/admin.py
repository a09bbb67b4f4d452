"""Repository for tenants and their credentials: retailers, stores, access keys, MMC tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from catalog_ingest.crypto import seal_text, unseal_text
from catalog_ingest.errors import Conflict, InvalidInput, NotFound
from catalog_ingest.storage import tables as t
from catalog_ingest.storage.database import Database


@dataclass(frozen=True)
class Store:
    store_id: str
    retailer_id: str
    name: str
    merchant_id: int
    catalog_id: int


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    retailer_id: str
    secret_access_key: str
    revoked: bool
    retailer_enabled: bool
    last_used_at: float | None = None


def create_retailer(conn: Connection, name: str) -> str:
    if not name.strip():
        raise InvalidInput("retailer name must not be blank")
    retailer_id = "ret-" + uuid.uuid4().hex[:12]
    conn.execute(
        insert(t.retailers).values(
            retailer_id=retailer_id, name=name, enabled=True, created_at=time.time()
        )
    )
    return retailer_id


def require_retailer(conn: Connection, retailer_id: str) -> None:
    """`NotFound` unless the retailer exists."""
    found = conn.execute(
        select(t.retailers.c.retailer_id).where(t.retailers.c.retailer_id == retailer_id)
    ).first()
    if found is None:
        raise NotFound(f"no retailer {retailer_id!r}")


def set_retailer_enabled(conn: Connection, retailer_id: str, enabled: bool) -> None:
    require_retailer(conn, retailer_id)
    conn.execute(
        update(t.retailers).where(t.retailers.c.retailer_id == retailer_id).values(enabled=enabled)
    )


def add_store(conn: Connection, retailer_id: str, store_id: str, name: str | None = None) -> Store:
    """A new store with the next free merchant and catalog ids (numbers a person can type)."""
    require_retailer(conn, retailer_id)
    if not store_id or len(store_id) > 255 or store_id != store_id.strip():
        raise InvalidInput("store_id must be 1-255 characters without surrounding spaces")
    exists = conn.execute(select(t.stores.c.store_id).where(t.stores.c.store_id == store_id))
    if exists.first() is not None:
        raise Conflict(f"store {store_id!r} already exists")
    top = conn.execute(select(func.max(t.stores.c.merchant_id))).scalar()
    merchant_id = int(top or 100_000) + 1
    store = Store(store_id, retailer_id, name or store_id, merchant_id, merchant_id + 900_000_000)
    conn.execute(
        insert(t.stores).values(
            store_id=store.store_id, retailer_id=retailer_id, name=store.name,
            merchant_id=store.merchant_id, catalog_id=store.catalog_id, created_at=time.time(),
        )
    )
    return store


def stores_by_id(conn: Connection, store_ids: list[str]) -> dict[str, Store]:
    rows = conn.execute(select(t.stores).where(t.stores.c.store_id.in_(store_ids)))
    return {r.store_id: Store(r.store_id, r.retailer_id, r.name, r.merchant_id, r.catalog_id)
            for r in rows}


def retailer_stores(conn: Connection, retailer_id: str) -> list[Store]:
    rows = conn.execute(
        select(t.stores).where(t.stores.c.retailer_id == retailer_id).order_by(t.stores.c.store_id)
    )
    return [Store(r.store_id, r.retailer_id, r.name, r.merchant_id, r.catalog_id) for r in rows]


def create_key(conn: Connection, server_secret: bytes, retailer_id: str) -> tuple[str, str]:
    """A new access key pair; the secret is returned this once and stored only sealed."""
    require_retailer(conn, retailer_id)
    key_id = "AKCI" + secrets.token_hex(8).upper()
    secret = secrets.token_urlsafe(30)
    conn.execute(
        insert(t.access_keys).values(
            access_key_id=key_id, retailer_id=retailer_id, revoked=False,
            secret_sealed=seal_text(server_secret, secret), created_at=time.time(),
        )
    )
    return key_id, secret


def revoke_key(conn: Connection, access_key_id: str) -> None:
    result = conn.execute(
        update(t.access_keys)
        .where(t.access_keys.c.access_key_id == access_key_id)
        .values(revoked=True)
    )
    if result.rowcount == 0:
        raise NotFound(f"no access key {access_key_id!r}")


_FIND_KEY = (
    "SELECT k.access_key_id, k.retailer_id, k.secret_sealed, k.revoked, r.enabled, "
    "k.last_used_at "
    "FROM access_keys k JOIN retailers r ON r.retailer_id = k.retailer_id "
    "WHERE k.access_key_id = ?"
)


def find_key(conn: Connection, server_secret: bytes, access_key_id: str) -> AccessKey | None:
    row = conn.execute(
        select(t.access_keys, t.retailers.c.enabled)
        .join(t.retailers, t.retailers.c.retailer_id == t.access_keys.c.retailer_id)
        .where(t.access_keys.c.access_key_id == access_key_id)
    ).first()
    if row is None:
        return None
    secret = unseal_text(server_secret, row.secret_sealed)
    return AccessKey(row.access_key_id, row.retailer_id, secret, bool(row.revoked),
                     bool(row.enabled), row.last_used_at)


def lookup_key(db: Database, server_secret: bytes, access_key_id: str) -> AccessKey | None:
    """`find_key` for every signed request: one statement, read fresh each time (a revoked key
    or a disabled retailer is refused at once); only the unsealed secret is memoised."""
    rows = db.query(_FIND_KEY, (access_key_id,))
    if not rows:
        return None
    key_id, retailer_id, sealed, revoked, enabled, last_used_at = rows[0]
    return AccessKey(key_id, retailer_id, _unsealed(server_secret, bytes(sealed)), bool(revoked),
                     bool(enabled), last_used_at)


@functools.lru_cache(maxsize=4096)
def _unsealed(server_secret: bytes, sealed: bytes) -> str:
    """Unsealing is a pure function of its arguments: memoised (AES-GCM + key derivation)."""
    return unseal_text(server_secret, sealed)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_mmc_token(conn: Connection, retailer_id: str) -> tuple[str, str]:
    """An (authentication token, developer token) pair; only their hashes are stored."""
    require_retailer(conn, retailer_id)
    auth, dev = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    conn.execute(
        insert(t.mmc_tokens).values(
            token_hash=_token_hash(auth), developer_token_hash=_token_hash(dev),
            retailer_id=retailer_id, created_at=time.time(),
        )
    )
    return auth, dev


def retailer_for_mmc_tokens(conn: Connection, auth_token: str, developer_token: str) -> str | None:
    row = conn.execute(
        select(t.mmc_tokens.c.retailer_id, t.mmc_tokens.c.developer_token_hash)
        .where(t.mmc_tokens.c.token_hash == _token_hash(auth_token))
    ).first()
    if row is None or not secrets.compare_digest(row.developer_token_hash,
                                                 _token_hash(developer_token)):
        return None
    return str(row.retailer_id)
