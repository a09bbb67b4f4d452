"""The planner alone, over in-memory catalog state: actions, conflicts, releases, archive."""

from __future__ import annotations

from typing import Any

from catalog_ingest.domain.rules import item_issues
from catalog_ingest.engine.planner import CatalogState, plan_archive, plan_upload
from catalog_ingest.storage.catalog import StoredItem

EAN_A, EAN_B = "4006381333931", "5901234123457"


def _item(sku: str, code: str, store: str = "s1", **extra: Any) -> dict[str, Any]:
    return {"item_sku": sku, "external_product_id": code, "external_product_id_type": "EAN",
            "item_name": f"Item {sku}", "store_id": store, **extra}


def _plan(items: list[dict[str, Any]], state: CatalogState | None = None) -> Any:
    return plan_upload(items, [item_issues(i) for i in items], state or CatalogState(), "ing", 1.0)


def _outcomes(plan: Any) -> list[tuple[str, str | None, list[str]]]:
    return [(r.status, r.action, [i.code for i in r.issues if i.is_error]) for r in plan.results]


def test_new_items_are_created_and_take_their_barcodes() -> None:
    plan = _plan([_item("A", EAN_A), _item("B", EAN_B)])
    assert _outcomes(plan) == [("ACCEPTED", "CREATED", []), ("ACCEPTED", "CREATED", [])]
    assert sorted(plan.barcode_inserts) == [("s1", EAN_A, "A"), ("s1", EAN_B, "B")]
    assert plan.summary()["itemsCreated"] == 2


def test_a_barcode_taken_earlier_in_the_same_upload_conflicts() -> None:
    plan = _plan([_item("A", EAN_A), _item("B", EAN_A)])
    assert _outcomes(plan)[1] == ("REJECTED", None, ["BARCODE_CONFLICT"])
    assert "SKU A" in plan.results[1].issues[0].message
    assert plan.barcode_inserts == [("s1", EAN_A, "A")]


def test_same_barcode_in_another_store_is_fine() -> None:
    plan = _plan([_item("A", EAN_A, "s1"), _item("B", EAN_A, "s2")])
    assert [r.status for r in plan.results] == ["ACCEPTED", "ACCEPTED"]


def test_update_releases_old_barcode_for_a_later_item() -> None:
    values = _plan([_item("A", EAN_A)]).item_rows[("s1", "A")]
    stored = StoredItem((*values[2:10], ()), True, [EAN_A])
    state = CatalogState(items={("s1", "A"): stored}, owners={("s1", EAN_A): "A"})
    plan = _plan([_item("A", EAN_B), _item("C", EAN_A)], state)
    assert _outcomes(plan) == [("ACCEPTED", "UPDATED", []), ("ACCEPTED", "CREATED", [])]
    assert plan.barcode_deletes == [("s1", EAN_A)]
    assert sorted(plan.barcode_inserts) == [("s1", EAN_A, "C"), ("s1", EAN_B, "A")]


def test_identical_values_are_unchanged_and_write_nothing() -> None:
    first = _plan([_item("A", EAN_A)])
    values = first.item_rows[("s1", "A")]
    stored = StoredItem((*values[2:10], ()), True, [EAN_A])
    state = CatalogState(items={("s1", "A"): stored}, owners={("s1", EAN_A): "A"})
    plan = _plan([_item("A", EAN_A)], state)
    assert _outcomes(plan) == [("ACCEPTED", "UNCHANGED", [])]
    assert plan.item_rows == {} and plan.barcode_inserts == [] and plan.barcode_deletes == []


def test_archived_item_is_recreated() -> None:
    first = _plan([_item("A", EAN_A)])
    values = first.item_rows[("s1", "A")]
    state = CatalogState(items={("s1", "A"): StoredItem((*values[2:10], ()), False, [EAN_A])})
    plan = _plan([_item("A", EAN_A)], state)
    assert _outcomes(plan) == [("ACCEPTED", "CREATED", [])]
    assert plan.barcode_inserts == [("s1", EAN_A, "A")]


def test_later_duplicate_sku_is_rejected_and_first_applied() -> None:
    plan = _plan([_item("A", EAN_A), _item("A", EAN_B)])
    assert _outcomes(plan) == [("ACCEPTED", "CREATED", []),
                               ("REJECTED", None, ["DUPLICATE_SKU_IN_UPLOAD"])]
    assert plan.item_rows[("s1", "A")][2] == EAN_A


def test_rejection_is_recorded_and_cleared_on_acceptance() -> None:
    plan = _plan([_item("A", EAN_A, standard_price="-1")])
    assert _outcomes(plan) == [("REJECTED", None, ["INVALID_PRICE"])]
    assert plan.rejection_upserts[0][:3] == ("s1", "A", "ing")
    fixed = _plan([_item("A", EAN_A)], CatalogState(rejected={("s1", "A")}))
    assert fixed.rejection_deletes == [("s1", "A")]


def test_archive_outcomes() -> None:
    state = CatalogState(items={("s1", "A"): StoredItem((), True, [EAN_A])},
                         owners={("s1", EAN_A): "A"})
    found = [("s1", "A", True), ("s2", "A", False), ("s1", "B", False)]
    plan = plan_archive(["A", "B", "C", "A"], found, state, "ing", 1.0)
    got = [(r.item_sku, r.store_id, r.action, [i.code for i in r.issues]) for r in plan.results]
    assert got == [
        ("A", "s1", "ARCHIVED", []),
        ("B", "s1", None, ["ALREADY_ARCHIVED"]),
        ("C", None, None, ["SKU_NOT_FOUND"]),
        ("A", None, None, ["DUPLICATE_SKU_IN_UPLOAD"]),
    ]
    assert plan.deactivate == [("s1", "A")] and plan.barcode_deletes == [("s1", EAN_A)]


def _stored_as(items: list[dict[str, Any]]) -> CatalogState:
    """The state after `items` were accepted (live, barcodes owned)."""
    from catalog_ingest.domain.items import canonical_values
    from catalog_ingest.domain.rules import item_barcodes

    state = CatalogState()
    for item in items:
        key = (item["store_id"], item["item_sku"])
        codes = item_barcodes(item)
        state.items[key] = StoredItem(canonical_values(item), True, codes)
        for code in codes:
            state.owners[(item["store_id"], code)] = item["item_sku"]
    return state


def test_unchanged_typed_items_need_no_rule_work_and_warnings_are_still_reported(
        monkeypatch: Any) -> None:
    from catalog_ingest.domain import rules

    typed = _item("A", EAN_A)
    untyped = {k: v for k, v in _item("B", EAN_B).items() if k != "external_product_id_type"}
    odd = _item("C", "96385074", external_product_id_type="EAN8", color="red")
    items = [typed, untyped, odd]
    state = _stored_as(items)
    expected = _plan(items, _stored_as(items))  # every rule run on every item
    calls: list[str] = []
    real = rules.item_issues

    def counting(item: Any) -> Any:
        calls.append(item["item_sku"])
        return real(item)

    monkeypatch.setattr(rules, "item_issues", counting)
    plan = plan_upload(items, None, state, "ing", 1.0)
    assert [r.to_dict() for r in plan.results] == [r.to_dict() for r in expected.results]
    assert [r.action for r in plan.results] == ["UNCHANGED"] * 3
    assert [[i.code for i in r.issues] for r in plan.results] == [
        [], ["INFERRED_BARCODE_TYPE"], ["UNKNOWN_ATTRIBUTE"]]
    assert calls == ["B", "C"]  # only where a warning is possible
    changed = plan_upload([{**typed, "item_name": "Other"}], None, state, "ing", 1.0)
    assert calls == ["B", "C", "A"] and changed.results[0].action == "UPDATED"
