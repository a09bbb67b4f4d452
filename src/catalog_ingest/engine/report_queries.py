"""Reading an upload's processing report for the portal: filters, pages, facets, MMC zip.

A report is immutable once written, so its decoded rows are kept in a small LRU cache: paging
and filtering a 10,000-row report costs a list scan, not a blob read and a JSON decode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.engine import intake, rejection_report
from catalog_ingest.engine.reports import iso
from catalog_ingest.errors import BlobNotFound, NotFound
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin
from catalog_ingest.storage.uploads import Upload

PAGE_SIZE: Final = 100
_CACHED_REPORTS: Final = 16


class ReportNotReady(NotFound):
    """The upload has no report yet (still queued or in progress, or cancelled)."""


class PayloadGone(NotFound):
    """The upload's payload was deleted by retention (`payload_retention_days`)."""


@dataclass(frozen=True, slots=True)
class ReportFilter:
    status: str = ""
    severity: str = ""
    code: str = ""
    store_id: str = ""
    field: str = ""

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.status and row["status"] != self.status:
            return False
        if self.store_id and row["store_id"] != self.store_id:
            return False
        if not (self.severity or self.code or self.field):
            return True
        return any(self._issue_matches(issue) for issue in row["issues"])

    def _issue_matches(self, issue: dict[str, Any]) -> bool:
        if self.severity and issue["severity"] != self.severity:
            return False
        if self.code and issue["code"] != self.code:
            return False
        return not self.field or _field_matches(issue.get("field"), self.field)

    def any(self) -> bool:
        return bool(self.status or self.severity or self.code or self.store_id or self.field)


def _field_matches(issue_field: str | None, wanted: str) -> bool:
    """`external_product_id` also matches `additional_...[3].external_product_id`'s base name."""
    if issue_field is None:
        return False
    if issue_field == wanted:
        return True
    base = issue_field.split("[", 1)[0]
    return base == wanted


@dataclass
class Facets:
    """The values the filters can take in this report (for the filter form)."""

    codes: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


@dataclass
class ReportPage:
    upload: Upload
    document: dict[str, Any]  # the report without itemResults
    rows: list[dict[str, Any]]
    matched: int
    page: int
    pages: int
    facets: Facets


@dataclass
class _Decoded:
    head: dict[str, Any]
    rows: list[dict[str, Any]]
    facets: Facets


class ReportQueries:
    """Report pages and downloads; one per application (it owns the decoded-report cache)."""

    def __init__(self, svc: Runtime) -> None:
        self.svc = svc
        self._cache: OrderedDict[str, _Decoded] = OrderedDict()
        self._lock = threading.Lock()

    def upload(self, retailer_id: str, ingestion_id: str) -> Upload:
        try:
            return intake.get_upload(self.svc, retailer_id, ingestion_id)
        except NotFound:
            raise NotFound(f"no upload {ingestion_id!r}") from None

    def raw_report(self, retailer_id: str, ingestion_id: str) -> bytes:
        """The JSON report as stored (ReportNotReady before the upload ends)."""
        found = self.upload(retailer_id, ingestion_id)
        if found.report_key is None:
            raise ReportNotReady(f"upload {ingestion_id} is {found.status} and has no report yet")
        return self.svc.blobs.get(found.report_key)

    def _decoded(self, upload: Upload) -> _Decoded:
        key = upload.report_key
        if key is None:
            raise ReportNotReady(f"upload {upload.ingestion_id} is {upload.status} and has no "
                                 "report yet")
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        doc = msgspec.json.decode(self.svc.blobs.get(key))
        rows = doc.pop("itemResults", [])
        decoded = _Decoded(doc, rows, _facets(rows))
        with self._lock:
            self._cache[key] = decoded
            while len(self._cache) > _CACHED_REPORTS:
                self._cache.popitem(last=False)
        return decoded

    def page(self, retailer_id: str, ingestion_id: str, wanted: ReportFilter, page: int,
             size: int = PAGE_SIZE) -> ReportPage:
        """Rows `page` (1-based) of the report's rows that pass `wanted`."""
        found = self.upload(retailer_id, ingestion_id)
        decoded = self._decoded(found)
        rows = decoded.rows if not wanted.any() else [r for r in decoded.rows if wanted.keeps(r)]
        pages = max(1, -(-len(rows) // size))
        page = min(max(page, 1), pages)
        shown = rows[(page - 1) * size : page * size]
        return ReportPage(found, decoded.head, shown, len(rows), page, pages, decoded.facets)

    def rejected(self, upload: Upload) -> list[dict[str, Any]]:
        """The report rows of `upload` that were rejected, in report order."""
        return [r for r in self._decoded(upload).rows if r["status"] == "REJECTED"]

    def mmc_zip(self, retailer_id: str, ingestion_id: str, store_id: str) -> bytes:
        """The upload's rejected items of one store as a Merchant-Center-style zipped CSV."""
        found = self.upload(retailer_id, ingestion_id)
        with self.svc.db.read() as conn:
            store = admin.stores_by_id(conn, [store_id]).get(store_id)
        if store is None or store.retailer_id != retailer_id:
            raise NotFound(f"no store {store_id!r}")
        rejected = [r for r in self.rejected(found) if r["store_id"] in (store_id, None)]
        items = _payload_items(self.svc, found, [r["index"] for r in rejected])
        rows = [_rejected_row(r, items.get(r["index"], {})) for r in rejected]
        when = iso(found.completed_at or found.submitted_at) or ""
        csv_bytes = rejection_report.build_csv(store.name, store.catalog_id, store_id, when, rows)
        return rejection_report.build_zip(csv_bytes)


def _facets(rows: Sequence[dict[str, Any]]) -> Facets:
    codes: set[str] = set()
    stores: set[str] = set()
    fields: set[str] = set()
    for row in rows:
        if row["store_id"] is not None:
            stores.add(row["store_id"])
        for issue in row["issues"]:
            codes.add(issue["code"])
            if issue.get("field"):
                fields.add(issue["field"].split("[", 1)[0])
    return Facets(sorted(codes), sorted(stores), sorted(fields))


def payload_items(svc: Runtime, upload: Upload) -> list[Any]:
    """The items (or, for an archive, the SKUs) of an upload's stored payload."""
    try:
        doc = msgspec.json.decode(svc.blobs.get(upload.payload_key))
    except BlobNotFound:
        raise PayloadGone(f"The items of upload {upload.ingestion_id} are no longer kept "
                          "(payloads are deleted some days after an upload ends); its report "
                          "is still here.") from None
    if upload.kind == "ARCHIVE":
        return list(doc.get("itemSkus", []))
    return list(doc.get("catalogItems", []))


def _payload_items(svc: Runtime, upload: Upload, indexes: Sequence[int]) -> dict[int, Any]:
    if not indexes:
        return {}
    try:
        items = payload_items(svc, upload)
    except PayloadGone:  # the report goes without the offer snippets' values
        return {}
    return {i: items[i] for i in indexes if 0 <= i < len(items) and isinstance(items[i], dict)}


def _rejected_row(row: dict[str, Any], item: dict[str, Any]) -> rejection_report.RejectedRow:
    errors = [i for i in row["issues"] if i["severity"] == "ERROR"]
    return rejection_report.RejectedRow(
        item_sku=row["item_sku"], messages=[i["message"] for i in errors],
        values=[str(i["value"]) for i in errors if i.get("value") is not None],
        title=_text(item.get("item_name")), product_type=_text(item.get("product_category")),
        price=_text(item.get("standard_price")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def has_report(upload: Upload) -> bool:
    return ProcessingStatus(upload.status).has_report and upload.report_key is not None
