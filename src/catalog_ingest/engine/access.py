"""API credentials as the service layer gives them to the skins: access keys by id."""

from __future__ import annotations

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from catalog_ingest.storage.admin import AccessKey
from catalog_ingest.storage.database import translate_errors

__all__ = ["AccessKey", "access_key"]


def access_key(svc: Runtime, access_key_id: str) -> AccessKey | None:
    """The key with its (unsealed) secret, revocation and its retailer's state; None if unknown.

    Read fresh on every call (one statement, no cache): a revoked key fails at once."""
    with translate_errors():
        return admin.lookup_key(svc.db, svc.settings.secret_key, access_key_id)
