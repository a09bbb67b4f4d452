"""Typed results of the Catalog API; unknown attributes are tolerated (the seeds add new ones)."""

from __future__ import annotations

from typing import Any

import msgspec

from catalog_ingest.domain.status import ProcessingStatus


class UploadAccepted(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=False):
    """201 of upload and archive: the id to track the upload with."""

    ingestion_id: str


class UploadStatus(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=False):
    """getCatalogUploadStatus: the status and, once DONE or FATAL, a pre-signed report link."""

    processing_status: str
    report_download_link: str = ""

    @property
    def terminal(self) -> bool:
        """DONE, FATAL or CANCELLED: the status will not change any more."""
        return self.processing_status in _TERMINAL

    @property
    def report_url(self) -> str | None:
        """The report link, or None while there is none."""
        return self.report_download_link or None


_TERMINAL = frozenset(s.value for s in ProcessingStatus if s.terminal)


class CancelResult(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=False):
    """cancelCatalogUpload's 200 body."""

    processing_status: str


class CatalogUpload(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=False):
    """One entry of listCatalogUploads."""

    ingestion_id: str
    processing_status: str
    submitted_at: str | None = None
    completed_at: str | None = None
    item_count: int | None = None
    store_ids: list[str] = msgspec.field(default_factory=list)


class UploadPage(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=False):
    """A page of listCatalogUploads, newest first; ``next_token`` is None on the last page."""

    catalog_uploads: list[CatalogUpload] = msgspec.field(default_factory=list)
    next_token: str | None = None


class AdditionalProductId(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One entry of ``additional_external_product_information``."""

    external_product_id: str
    external_product_id_type: str | None = None


_ITEM_RENAME = {"updated_at": "updatedAt", "ingestion_id": "ingestionId"}


class CatalogItem(msgspec.Struct, frozen=True, rename=_ITEM_RENAME, forbid_unknown_fields=False):
    """A stored item as the extensions return it; attributes the SDK does not know are kept
    in ``extra`` (wire name → value) rather than dropped."""

    item_sku: str
    store_id: str
    external_product_id: str
    item_name: str
    external_product_id_type: str | None = None
    additional_external_product_information: list[AdditionalProductId] = msgspec.field(
        default_factory=list
    )
    standard_price: str | None = None
    brand_name: str | None = None
    product_tax_code: str | None = None
    product_category: str | None = None
    product_subcategory: str | None = None
    status: str | None = None
    updated_at: str | None = None
    ingestion_id: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @classmethod
    def from_wire(cls, obj: Any) -> CatalogItem:
        """Build from a decoded JSON object, unknown attributes going to ``extra``."""
        if not isinstance(obj, dict):
            raise msgspec.ValidationError("a catalog item must be a JSON object")
        known = {k: v for k, v in obj.items() if k in _ITEM_WIRE_NAMES}
        extra = {k: v for k, v in obj.items() if k not in _ITEM_WIRE_NAMES}
        item = msgspec.convert(known, cls)
        return msgspec.structs.replace(item, extra=extra) if extra else item

    @property
    def active(self) -> bool:
        return self.status != "ARCHIVED"

    def to_upload_item(self) -> dict[str, Any]:
        """The item as an upload takes it (stored fields only, absent ones left out)."""
        out: dict[str, Any] = {}
        for name in _UPLOAD_FIELDS:
            value = getattr(self, name)
            if name == "additional_external_product_information":
                value = [
                    {k: x for k, x in msgspec.structs.asdict(v).items() if x is not None}
                    for v in value
                ] or None
            if value is not None:
                out[name] = value
        return out


_ITEM_WIRE_NAMES = frozenset(
    _ITEM_RENAME.get(f, f) for f in CatalogItem.__struct_fields__ if f != "extra"
)
_UPLOAD_FIELDS = tuple(
    f
    for f in CatalogItem.__struct_fields__
    if f not in ("status", "updated_at", "ingestion_id", "extra")
)


class ItemPage(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A page of listCatalogItems, in SKU order; ``next_token`` is None on the last page."""

    catalog_items: list[CatalogItem]
    next_token: str | None = None
