"""Apply an upload's items in order to a snapshot of the catalog: results plus the writes to make.

Pure logic over in-memory state (no database): the processor loads the state, the planner decides,
the processor writes. Stateless per-item rules come from `domain.rules`; this module adds the
rules that depend on the catalog and on earlier items: one SKU per barcode per store, duplicate
SKUs within an upload, upsert actions, archive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog_ingest.domain import issues as codes
from catalog_ingest.domain import rules
from catalog_ingest.domain.issues import Issue, error
from catalog_ingest.domain.items import (
    ADDITIONAL_IDS,
    KNOWN_ADDITIONAL_FIELDS,
    KNOWN_FIELDS,
    canonical_values,
)
from catalog_ingest.domain.rules import item_barcodes
from catalog_ingest.storage.catalog import StoredItem, encode_additional

PRIMARY_TYPE = "external_product_id_type"
Key = tuple[str, str]  # (store_id, item_sku) or (store_id, barcode)


@dataclass(slots=True)
class ItemResult:
    index: int
    item_sku: str
    store_id: str | None
    status: str
    action: str | None
    issues: list[Issue]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "item_sku": self.item_sku, "store_id": self.store_id,
            "status": self.status, "action": self.action,
            "issues": [i.to_dict() for i in self.issues] if self.issues else [],
        }


@dataclass
class CatalogState:
    """What the planner knows of the catalog: the items and barcode owners it may touch."""

    items: dict[Key, StoredItem] = field(default_factory=dict)
    owners: dict[Key, str] = field(default_factory=dict)
    rejected: set[Key] = field(default_factory=set)


@dataclass
class Plan:
    results: list[ItemResult] = field(default_factory=list)
    item_rows: dict[Key, tuple[Any, ...]] = field(default_factory=dict)
    deactivate: list[Key] = field(default_factory=list)
    barcode_deletes: list[Key] = field(default_factory=list)
    barcode_inserts: list[tuple[str, str, str]] = field(default_factory=list)
    rejection_upserts: list[tuple[Any, ...]] = field(default_factory=list)
    rejection_deletes: list[Key] = field(default_factory=list)
    #: The owner each barcode key had before this plan first changed it (None: unowned).
    owners_before: dict[Key, str | None] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        counts = {"CREATED": 0, "UPDATED": 0, "UNCHANGED": 0, "ARCHIVED": 0}
        accepted = warnings = 0
        for r in self.results:
            if r.status == "ACCEPTED":
                accepted += 1
                counts[r.action or ""] = counts.get(r.action or "", 0) + 1
            if r.issues:  # most items have none: no generator for them
                warnings += sum(1 for i in r.issues if not i.is_error)
        return {
            "itemsReceived": len(self.results), "itemsAccepted": accepted,
            "itemsRejected": len(self.results) - accepted, "itemsCreated": counts["CREATED"],
            "itemsUpdated": counts["UPDATED"], "itemsUnchanged": counts["UNCHANGED"],
            "warnings": warnings,
        }


def _barcode_path(position: int) -> str:
    """The field path of an item's barcode number `position` (0: the primary, then additional)."""
    if position == 0:
        return "external_product_id"
    return f"{ADDITIONAL_IDS}[{position - 1}].external_product_id"


def _conflicts(key: Key, item_codes: list[str], state: CatalogState) -> list[Issue]:
    store, sku = key
    owners = state.owners
    found = []
    for position, code in enumerate(item_codes):
        owner = owners.get((store, code))
        if owner is not None and owner != sku:
            found.append(error(codes.BARCODE_CONFLICT, _barcode_path(position),
                               f"Barcode {code} already belongs to SKU {owner} in store {store}",
                               code))
    return found


def plan_upload(items: Sequence[Mapping[str, Any]], item_issues: Sequence[list[Issue]] | None,
                state: CatalogState, ingestion_id: str, now: float,
                item_codes_of: Sequence[list[str]] | None = None) -> Plan:
    """Decide every item in order; `item_issues[i]` are item i's stateless issues, or None to
    have them computed here (then only where they can matter: see `_unchanged_issues`);
    `item_codes_of[i]`, when given, item i's barcodes (`item_barcodes`)."""
    plan = Plan()
    seen: set[Key] = set()
    items_state = state.items
    for index, item in enumerate(items):
        key = (item["store_id"], item["item_sku"])
        if key in seen:
            issue = error(codes.DUPLICATE_SKU_IN_UPLOAD, "item_sku",
                          f"SKU {key[1]} appears earlier in this upload for store {key[0]}",
                          key[1])
            plan.results.append(ItemResult(index, key[1], key[0], "REJECTED", None, [issue]))
            continue
        seen.add(key)
        # Barcodes are computed once per item (no field paths unless a conflict needs one):
        # this loop runs for every item of every upload.
        item_codes = item_codes_of[index] if item_codes_of is not None else item_barcodes(item)
        values = canonical_values(item)
        old = items_state.get(key)
        if old is not None and old.active and old.values == values:
            stateless = (item_issues[index] if item_issues is not None
                         else _unchanged_issues(item))
            # The resync case (no issue, every barcode its own) builds no issue lists.
            found = ([] if not stateless and _owns_all(state.owners, key, item_codes)
                     else [*stateless, *_conflicts(key, item_codes, state)])
            if not found or not any(i.is_error for i in found):
                plan.results.append(ItemResult(index, key[1], key[0], "ACCEPTED", "UNCHANGED",
                                               found))
                if key in state.rejected:
                    plan.rejection_deletes.append(key)
                continue
        else:
            stateless = item_issues[index] if item_issues is not None else rules.item_issues(item)
            found = [*stateless, *_conflicts(key, item_codes, state)]
        if found and any(i.is_error for i in found):
            plan.results.append(ItemResult(index, key[1], key[0], "REJECTED", None, found))
            plan.rejection_upserts.append(_rejection_row(item, found, ingestion_id, now))
            continue
        action = _apply(item, key, values, item_codes, state, plan, ingestion_id, now)
        plan.results.append(ItemResult(index, key[1], key[0], "ACCEPTED", action, found))
        if key in state.rejected:
            plan.rejection_deletes.append(key)
    _barcode_diff(plan.owners_before, state.owners, plan)
    return plan


def _owns_all(owners: Mapping[Key, str], key: Key, item_codes: list[str]) -> bool:
    """Whether the item's SKU owns every one of its barcodes (so none is in conflict)."""
    store, sku = key
    for code in item_codes:  # noqa: SIM110 - a loop: all() over a generator costs twice as much
        if owners.get((store, code)) != sku:
            return False
    return True


def _unchanged_issues(item: Mapping[str, Any]) -> list[Issue]:
    """The stateless issues of an item whose stored values it repeats exactly.

    Its stored values passed every rule when they were accepted, and the rules that can
    reject an item read only those values (barcodes and their types, price, name), so there
    is no error to find; the only warnings are an inferred barcode type (a type missing) and
    unknown attributes. The full rules run only when one of those is possible: a resync of
    unchanged, typed items does no rule work at all.
    """
    if not KNOWN_FIELDS.issuperset(item) or not item.get(PRIMARY_TYPE):
        return rules.item_issues(item)
    for entry in item.get(ADDITIONAL_IDS) or ():
        if not entry.get(PRIMARY_TYPE) or not KNOWN_ADDITIONAL_FIELDS.issuperset(entry):
            return rules.item_issues(item)
    return []


def _apply(item: Mapping[str, Any], key: Key, values: tuple[Any, ...], item_codes: list[str],
           state: CatalogState, plan: Plan, ingestion_id: str, now: float) -> str:
    old = state.items.get(key)
    live = old is not None and old.active
    if live and old is not None and old.values == values:
        return "UNCHANGED"
    action = "UPDATED" if live else "CREATED"
    store, sku = key
    owners, before = state.owners, plan.owners_before
    if live and old is not None:
        for code in old.barcodes:
            if owners.get((store, code)) == sku:
                before.setdefault((store, code), sku)
                del owners[(store, code)]
    for code in item_codes:
        before.setdefault((store, code), owners.get((store, code)))
        owners[(store, code)] = sku
    # state.items is not updated: a later occurrence of this key in the upload is rejected as a
    # duplicate before anything looks the key up again.
    plan.item_rows[key] = (store, sku, *values[:-1], encode_additional(values[-1]), True, now,
                           ingestion_id)
    return action


def _rejection_row(item: Mapping[str, Any], found: list[Issue], ingestion_id: str,
                   now: float) -> tuple[Any, ...]:
    issues = json.dumps([i.to_dict() for i in found if i.is_error], ensure_ascii=False)
    return (item["store_id"], item["item_sku"], ingestion_id, now, issues,
            item.get("item_name"), item.get("product_category"), item.get("standard_price"))


def _barcode_diff(before: Mapping[Key, str | None], after: Mapping[Key, str], plan: Plan) -> None:
    """Deletes and inserts that take the barcodes table from `before` to `after`."""
    for key, owner in before.items():
        now_owner = after.get(key)
        if now_owner == owner:
            continue
        if owner is not None:
            plan.barcode_deletes.append(key)
        if now_owner is not None:
            plan.barcode_inserts.append((key[0], key[1], now_owner))


def plan_archive(skus: Sequence[str], found: Sequence[tuple[str, str, bool]],
                 state: CatalogState, ingestion_id: str, now: float) -> Plan:
    """Archive each SKU in every store of the retailer that has it live."""
    plan = Plan()
    by_sku: dict[str, list[tuple[str, bool]]] = {}
    for store, sku, active in found:
        by_sku.setdefault(sku, []).append((store, active))
    seen: set[str] = set()
    for index, sku in enumerate(skus):
        if sku in seen:
            issue = error(codes.DUPLICATE_SKU_IN_UPLOAD, "itemSkus",
                          f"SKU {sku} appears earlier in this archive request", sku)
            plan.results.append(ItemResult(index, sku, None, "REJECTED", None, [issue]))
            continue
        seen.add(sku)
        _archive_one(index, sku, sorted(by_sku.get(sku, [])), state, plan, now)
    return plan


def _archive_one(index: int, sku: str, stores: list[tuple[str, bool]], state: CatalogState,
                 plan: Plan, now: float) -> None:
    live = [store for store, active in stores if active]
    for store in live:
        plan.results.append(ItemResult(index, sku, store, "ACCEPTED", "ARCHIVED", []))
        plan.deactivate.append((store, sku))
        stored = state.items.get((store, sku))
        for code in stored.barcodes if stored else ():
            if state.owners.get((store, code)) == sku:
                plan.barcode_deletes.append((store, code))
    if live:
        return
    if not stores:
        issue = error(codes.SKU_NOT_FOUND, "itemSkus", f"No store of the retailer has SKU {sku}",
                      sku)
        plan.results.append(ItemResult(index, sku, None, "REJECTED", None, [issue]))
    for store, _ in stores:
        issue = error(codes.ALREADY_ARCHIVED, "itemSkus",
                      f"SKU {sku} is already archived in store {store}", sku)
        plan.results.append(ItemResult(index, sku, store, "REJECTED", None, [issue]))


def archive_summary(plan: Plan, received: int) -> dict[str, int]:
    """Per SKU: accepted when archived in at least one store; `itemsArchived` counts pairs."""
    archived_skus = {r.index for r in plan.results if r.action == "ARCHIVED"}
    return {
        "itemsReceived": received, "itemsAccepted": len(archived_skus),
        "itemsRejected": received - len(archived_skus), "itemsCreated": 0, "itemsUpdated": 0,
        "itemsUnchanged": 0, "warnings": 0,
        "itemsArchived": sum(1 for r in plan.results if r.action == "ARCHIVED"),
    }
