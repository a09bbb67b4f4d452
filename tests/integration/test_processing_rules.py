"""Item rules through the real engine, each read back from the downloaded processing report."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import tables
from tests.integration.oracle import EXTRAS, download_report, submit
from tests.support.tenants import Tenant, item

ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
REPORT_KEYS = {"ingestionId", "processingStatus", "submittedAt", "startedAt", "completedAt",
               "summary", "itemResults"}
SUMMARY_KEYS = {"itemsReceived", "itemsAccepted", "itemsRejected", "itemsCreated",
                "itemsUpdated", "itemsUnchanged", "warnings"}
RESULT_KEYS = {"index", "item_sku", "store_id", "status", "action", "issues"}
UPC_A, UPC_A2 = "012345678905", "036000291452"
EAN_A, EAN_B, EAN_C, EAN_BAD = "4006381333931", "5901234123457", "9780306406157", "4006381333934"
EAN8, ISBN, PLU = "96385074", "0306406152", "4011"
S1 = "store-01"


def _upc(sku: str, code: str, extras: list[dict[str, str]] | None = None, **extra: Any
         ) -> dict[str, object]:
    out = item(sku, code, S1, external_product_id_type="UPC", **extra)
    return {**out, EXTRAS: extras} if extras else out


def _ean(sku: str, code: str, extras: list[dict[str, str]] | None = None,
         name: str | None = None) -> dict[str, object]:
    out = item(sku, code, S1, name, external_product_id_type="EAN")
    return {**out, EXTRAS: extras} if extras else out


def _typed(code: str, kind: str) -> dict[str, str]:
    return {"external_product_id": code, "external_product_id_type": kind}


def _ms(text: str) -> float:
    assert ISO_MS.fullmatch(text), text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _issue(result: dict[str, Any]) -> dict[str, Any]:
    """The single issue of a result."""
    assert len(result["issues"]) == 1, result
    issue: dict[str, Any] = result["issues"][0]
    return issue


def _rejected(result: dict[str, Any], code: str, field: str, value: str) -> dict[str, Any]:
    assert (result["status"], result["action"]) == ("REJECTED", None), result
    issue = _issue(result)
    assert {k: issue[k] for k in ("severity", "code", "field", "value")} == {
        "severity": "ERROR", "code": code, "field": field, "value": value}
    assert issue["message"]
    return issue


# Upload order of the one big upload below; each line is one rule.
RULE_ITEMS: list[dict[str, object]] = [
    _upc("ok", UPC_A, standard_price="4.99"),                                # 0 created
    item("bad-shape", "12345a", S1),                                         # 1
    _upc("mismatch", EAN_A),                                                 # 2
    _ean("check", EAN_BAD),                                                  # 3
    _ean("taker", EAN_B, [_typed(UPC_A, "UPC")]),                           # 4 conflict with ok
    _ean("twice", EAN_C, [_typed(EAN8, "EAN8"), _typed(EAN_C, "EAN")]),      # 5
    _upc("ok", UPC_A2, item_name="second ok"),                               # 6 duplicate SKU
    *(_upc(f"price-{n}", f"0000000000{n}{c}", standard_price=p)              # 7-10
      for n, (p, c) in enumerate([("-1", "0"), ("1e3", "7"), ("NaN", "4"), ("4,99", "1")])),
    _upc("blank", "000000000208", item_name=" \t "),                         # 11
    _upc("colourful", "000000000215", color="red"),                          # 12 warning
    item("untyped", UPC_A2, S1),                                             # 13 warning
    _upc("fourth", "000000000222", [
        {"external_product_id": EAN8, "external_product_id_type": "EAN8"},
        {"external_product_id": ISBN, "external_product_id_type": "isbn"},
        {"external_product_id": PLU, "external_product_id_type": "PLU"},
        {"external_product_id": "5901234123458", "external_product_id_type": "EAN"}]),  # 14
]


def test_every_item_rule_is_reported_per_item_in_upload_order(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    before = time.time()
    ingestion_id = submit(client, tenant, RULE_ITEMS)
    assert drain(svc) == ["DONE"]
    after = time.time()
    doc = download_report(client, tenant, ingestion_id)
    assert set(doc) == REPORT_KEYS
    assert doc["processingStatus"] == "DONE"
    submitted, started, completed = (_ms(doc[k]) for k in ("submittedAt", "startedAt",
                                                           "completedAt"))
    assert int(before * 1000) / 1000 <= submitted <= started <= completed <= after
    results = doc["itemResults"]
    assert [r["index"] for r in results] == list(range(len(RULE_ITEMS)))
    assert [(r["item_sku"], r["store_id"]) for r in results] == [
        (i["item_sku"], i["store_id"]) for i in RULE_ITEMS]
    for r in results:
        assert set(r) == RESULT_KEYS
        for issue in r["issues"]:
            assert set(issue) in ({"severity", "code", "field", "message"},
                                  {"severity", "code", "field", "message", "value"})
    assert (results[0]["status"], results[0]["action"], results[0]["issues"]) == (
        "ACCEPTED", "CREATED", [])
    _rejected(results[1], "INVALID_BARCODE", "external_product_id", "12345a")
    _rejected(results[2], "BARCODE_TYPE_MISMATCH", "external_product_id", EAN_A)
    check = _rejected(results[3], "INVALID_CHECK_DIGIT", "external_product_id", EAN_BAD)
    assert check["message"] == "EAN-13 check digit should be 1, not 4"
    conflict = _rejected(results[4], "BARCODE_CONFLICT",
                         f"{EXTRAS}[0].external_product_id", UPC_A)
    assert "ok" in conflict["message"].split()  # names the SKU that holds it
    _rejected(results[5], "DUPLICATE_BARCODE_IN_ITEM", f"{EXTRAS}[1].external_product_id", EAN_C)
    _rejected(results[6], "DUPLICATE_SKU_IN_UPLOAD", "item_sku", "ok")
    for result, price in zip(results[7:11], ["-1", "1e3", "NaN", "4,99"], strict=True):
        _rejected(result, "INVALID_PRICE", "standard_price", price)
    _rejected(results[11], "BLANK_ITEM_NAME", "item_name", " \t ")
    _assert_warnings(results[12], results[13])
    _rejected(results[14], "INVALID_CHECK_DIGIT", f"{EXTRAS}[3].external_product_id",
              "5901234123458")
    assert doc["summary"] == {"itemsReceived": 15, "itemsAccepted": 3, "itemsRejected": 12,
                              "itemsCreated": 3, "itemsUpdated": 0, "itemsUnchanged": 0,
                              "warnings": 2}
    _assert_only_accepted_items_stored(svc)


def _assert_warnings(coloured: dict[str, Any], untyped: dict[str, Any]) -> None:
    assert (coloured["status"], coloured["action"]) == ("ACCEPTED", "CREATED")
    assert _issue(coloured) == {"severity": "WARNING", "code": "UNKNOWN_ATTRIBUTE",
                                "field": "color", "value": "red",
                                "message": "Unknown attribute 'color' was ignored"}
    assert (untyped["status"], untyped["action"]) == ("ACCEPTED", "CREATED")
    inferred = _issue(untyped)
    assert {k: inferred[k] for k in ("severity", "code", "field", "value")} == {
        "severity": "WARNING", "code": "INFERRED_BARCODE_TYPE", "field": "external_product_id",
        "value": UPC_A2}
    assert "UPC-A" in inferred["message"]


def _assert_only_accepted_items_stored(svc: Runtime) -> None:
    i = tables.items.c
    with svc.db.read() as conn:
        rows = conn.execute(select(i.item_sku, i.item_name, i.external_product_id)
                            .order_by(i.item_sku)).all()
        owners = conn.execute(select(tables.barcodes.c.barcode, tables.barcodes.c.item_sku)
                              .order_by(tables.barcodes.c.barcode)).all()
    # The first "ok" was applied; the later duplicate (name "second ok", UPC_A2) was not.
    assert [tuple(r) for r in rows] == [
        ("colourful", "Item colourful", "000000000215"), ("ok", "Item ok", UPC_A),
        ("untyped", "Item untyped", UPC_A2)]
    assert [tuple(r) for r in owners] == [
        ("000000000215", "colourful"), (UPC_A, "ok"), (UPC_A2, "untyped")]


def test_conflict_names_the_sku_that_holds_the_barcode_from_an_earlier_upload(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    submit(client, tenant, [_ean("holder-sku", EAN_A)])
    second = submit(client, tenant, [
        _ean("taker-sku", EAN_B, [_typed(EAN8, "EAN8"), _typed(EAN_A, "EAN")]),
        _ean("holder-sku", EAN_A, name="renamed")])
    assert drain(svc) == ["DONE", "DONE"]
    doc = download_report(client, tenant, second)
    conflict = _rejected(doc["itemResults"][0], "BARCODE_CONFLICT",
                         f"{EXTRAS}[1].external_product_id", EAN_A)
    assert "holder-sku" in conflict["message"]
    assert "taker-sku" not in conflict["message"]
    # The holder updating itself with its own barcode is no conflict.
    assert (doc["itemResults"][1]["status"], doc["itemResults"][1]["action"]) == (
        "ACCEPTED", "UPDATED")
    assert doc["summary"] == {"itemsReceived": 2, "itemsAccepted": 1, "itemsRejected": 1,
                              "itemsCreated": 0, "itemsUpdated": 1, "itemsUnchanged": 0,
                              "warnings": 0}


def test_issues_of_one_item_are_all_reported_and_unknown_nested_attributes_warn(
        client: TestClient, svc: Runtime, tenant: Tenant) -> None:
    many = {**item("many", "123", S1, "   ", standard_price="1.2345"),
            EXTRAS: [{"external_product_id": UPC_A, "shade": "blue"}]}
    ingestion_id = submit(client, tenant, [many])
    drain(svc)
    (result,) = download_report(client, tenant, ingestion_id)["itemResults"]
    assert result["status"] == "REJECTED"
    found = sorted((i["severity"], i["code"], i["field"]) for i in result["issues"])
    assert found == [
        ("ERROR", "BLANK_ITEM_NAME", "item_name"),
        ("ERROR", "INVALID_BARCODE", "external_product_id"),
        ("ERROR", "INVALID_PRICE", "standard_price"),
        ("WARNING", "INFERRED_BARCODE_TYPE", f"{EXTRAS}[0].external_product_id"),
        ("WARNING", "UNKNOWN_ATTRIBUTE", f"{EXTRAS}[0].shade"),
    ]
