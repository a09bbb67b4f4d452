"""Provisioning retailers, stores and keys for tests, straight through the repositories."""

from __future__ import annotations

from dataclasses import dataclass

from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from tests.support.signing import BotocoreAuth


@dataclass
class Tenant:
    retailer_id: str
    stores: list[str]
    access_key_id: str
    secret_access_key: str

    @property
    def auth(self) -> BotocoreAuth:
        return BotocoreAuth(self.access_key_id, self.secret_access_key)


def make_tenant(svc: Runtime, name: str, stores: list[str]) -> Tenant:
    with svc.db.write() as conn:
        retailer_id = admin.create_retailer(conn, name)
        for store in stores:
            admin.add_store(conn, retailer_id, store)
        key, secret = admin.create_key(conn, svc.settings.secret_key, retailer_id)
    return Tenant(retailer_id, stores, key, secret)


def item(sku: str, barcode: str, store: str, name: str | None = None, **extra: object
         ) -> dict[str, object]:
    return {"item_sku": sku, "external_product_id": barcode, "item_name": name or f"Item {sku}",
            "store_id": store, **extra}
