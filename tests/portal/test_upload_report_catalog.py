"""In a real browser: upload files with faulty rows, check, submit, watch DONE, read and filter
the report, fix the errors-only file and upload it again, find an item by barcode, edit,
archive and reactivate it; axe-core on every page of these areas."""

from __future__ import annotations

import io
import random
import re
import uuid
from typing import Any

from catalog_ingest.domain.barcodes import gs1_check_digit
from tests.portal.conftest import PortalSite, assert_accessible, screenshot

HEADER = "item_sku,external_product_id,item_name,store_id,standard_price\n"
_rng = random.Random()


def ean13() -> str:
    body = "2" + "".join(str(_rng.randrange(10)) for _ in range(11))
    return body + str(gs1_check_digit(body))


def choose_file(page: Any, name: str, content: bytes) -> None:
    mime = "text/csv" if name.endswith(".csv") else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    page.get_by_label("Catalog file").set_input_files(
        {"name": name, "mimeType": mime, "buffer": content})


def check(page: Any, site: PortalSite, name: str, content: bytes) -> None:
    page.goto(site.portal("/upload"))
    choose_file(page, name, content)
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url("**/portal/upload/check/**")


def submit_and_finish(page: Any, site: PortalSite) -> str:
    """Submit the checked rows, run the worker, wait for DONE on the upload page (live)."""
    page.get_by_role("button", name=re.compile(r"^Submit \d")).click()
    page.wait_for_url(re.compile(r".*/portal/uploads/[0-9a-f-]{36}$"))
    ingestion_id = page.url.rsplit("/", 1)[1]
    site.run_worker()
    page.locator('#upload-live[data-status="DONE"]').wait_for()  # htmx polling, no reload
    return ingestion_id


def test_csv_check_submit_report_errors_file_and_fix(editor_page: Any,
                                                     portal_site: PortalSite) -> None:
    page, site = editor_page, portal_site
    store = site.tenant.stores[0]
    tag = uuid.uuid4().hex[:6]
    good, taken, fresh = ean13(), ean13(), ean13()
    rows = [f"{tag}-A,{good},<script>alert(1)</script>,{store},1.00",
            f"{tag}-B,{taken},=cmd|' /C calc'!A0,{store},2.00",
            f"{tag}-C,4006381333934,Bad digit,{store},1",
            f"{tag}-D,4.00638E+12,Mangled,{store},1"]
    page.goto(site.portal("/upload"))
    assert_accessible(page)
    screenshot(page, "upload")
    check(page, site, "faulty.csv", (HEADER + "\n".join(rows) + "\n").encode())
    body = page.locator("main")
    assert "INVALID_CHECK_DIGIT" in body.inner_text()
    assert "SPREADSHEET_MANGLED_BARCODE" in body.inner_text()
    assert_accessible(page)
    screenshot(page, "upload-check")
    # Meanwhile another SKU takes B's barcode: the check cannot know, processing rejects B.
    site.api_upload([{"item_sku": f"{tag}-X", "external_product_id": taken,
                      "item_name": "Taker", "store_id": store}])
    site.run_worker()
    ingestion_id = submit_and_finish(page, site)
    page.get_by_role("link", name="Read the report").click()
    page.wait_for_url(f"**/uploads/{ingestion_id}/report")
    page.get_by_label("Status").select_option("REJECTED")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=REJECTED**")
    assert page.locator("#matched").inner_text().startswith("1 result")
    assert "BARCODE_CONFLICT" in page.locator("main table").inner_text()
    assert_accessible(page)
    screenshot(page, "report")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("rejected rows only")).click()
    errors_csv = open(info.value.path(), "rb").read()  # noqa: SIM115
    assert f"{tag}-B".encode() in errors_csv and f"{tag}-A".encode() not in errors_csv
    assert b"'=cmd" in errors_csv  # neutralised for spreadsheets
    fixed = errors_csv.replace(taken.encode(), fresh.encode())
    check(page, site, "faulty-errors.csv", fixed)
    assert "No errors." in page.locator("main").inner_text()
    submit_and_finish(page, site)


def xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_check_submit_and_the_catalog_pages(editor_page: Any,
                                                 portal_site: PortalSite) -> None:
    page, site = editor_page, portal_site
    store = site.tenant.stores[0]
    tag = uuid.uuid4().hex[:6]
    code = ean13()
    content = xlsx([HEADER.strip().split(","), [f"{tag}-1", code, "Milk 1L", store, "1.10"],
                    [f"{tag}-2", "123", "Too short", store, "1"],
                    [f"{tag}-3", ean13(), "Bad price", store, "-1"]])
    check(page, site, "book.xlsx", content)
    text = page.locator("main").inner_text()
    assert "INVALID_PRICE" in text and "INVALID_BARCODE" in text
    submit_and_finish(page, site)
    # Find it by its barcode as a scanner types it (spaces), then Enter.
    page.goto(site.portal(f"/catalog?store={store}"))
    search = page.get_by_label("SKU, name or barcode")
    search.fill(f"{code[:1]} {code[1:7]} {code[7:]}")
    search.press("Enter")
    page.get_by_role("link", name=f"{tag}-1").wait_for()
    assert_accessible(page)
    screenshot(page, "catalog")
    page.get_by_role("link", name=f"{tag}-1").click()
    page.wait_for_url("**/catalog/item?**")
    assert_accessible(page)
    screenshot(page, "item")
    # Edit: a bad price is refused at its field, from the same rules; then a good one.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Price (e.g. 4.99)").fill("4,99")
    page.get_by_role("button", name=re.compile("Save")).click()
    assert page.locator("#f-standard_price[aria-invalid=true]").count() == 1
    assert_accessible(page)
    screenshot(page, "item-edit")
    page.get_by_label("Price (e.g. 4.99)").fill("4.99")
    page.get_by_role("button", name=re.compile("Save")).click()
    page.locator('#upload-live[data-status="INQUEUE"]').wait_for()
    site.run_worker()
    page.locator('#upload-live[data-status="DONE"]').wait_for()
    item_url = site.portal(f"/catalog/item?store={store}&sku={tag}-1")
    page.goto(item_url)
    assert "4.99" in page.locator("main").inner_text()
    page.get_by_role("button", name="Archive").click()
    site.run_worker()
    page.locator('#upload-live[data-status="DONE"]').wait_for()
    page.goto(item_url)
    assert "ARCHIVED" in page.locator("main").inner_text()
    page.get_by_role("button", name="Reactivate").click()
    site.run_worker()
    page.locator('#upload-live[data-status="DONE"]').wait_for()
    page.goto(item_url)
    assert "ACTIVE" in page.locator("main dl").inner_text()
    assert "ARCHIVED" not in page.locator("main dl").inner_text()


def test_bad_uploads_get_a_message_on_the_page(editor_page: Any,
                                               portal_site: PortalSite) -> None:
    page, site = editor_page, portal_site
    for name, content, needle in [
        ("empty.csv", b"", "The file is empty"),
        ("mine.csv", b"sku,barcode,name,store,price\nA,1,x,s,1\n", "no column of the file"),
        ("book.xlsx", xlsx([["a", "b"], ["1", "2"]]), "no column of the file"),
        ("header.xlsx", xlsx([["item_sku"]]), "has no items"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a catalog file"),
    ]:
        page.goto(site.portal("/upload"))
        choose_file(page, name, content)
        page.get_by_role("button", name="Check the file").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert needle in alert.inner_text(), (name, alert.inner_text())
    page.goto(site.portal("/upload"))
    choose_file(page, "book.xlsx", xlsx([HEADER.strip().split(",")]))
    page.get_by_label("Sheet (Excel only; empty: the first sheet)").fill("Prices")
    page.get_by_role("button", name="Check the file").click()
    assert "no sheet 'Prices'" in page.get_by_role("alert").inner_text()
    assert_accessible(page)


def test_a_file_over_10000_rows_is_one_batch_of_uploads_on_an_accessible_page(
        editor_page: Any, portal_site: PortalSite) -> None:
    page, site = editor_page, portal_site
    store = site.tenant.stores[0]
    tag = uuid.uuid4().hex[:6]
    prefix = "29" + str(_rng.randrange(100)).zfill(2)  # distinct barcodes, apart from other tests

    def code(n: int) -> str:
        body = f"{prefix}{n:08d}"
        return body + str(gs1_check_digit(body))

    rows = "".join(f"{tag}-{n:05d},{code(n)},Item {n},{store},1\n" for n in range(10_001))
    check(page, site, "big.csv", (HEADER + rows).encode())
    page.get_by_role("button", name=re.compile(r"^Submit \d")).click()
    page.wait_for_url(re.compile(r".*/portal/batches/[^/]+$"))
    site.run_worker()
    assert page.locator("main").get_by_role("link", name=re.compile("[0-9a-f]{8}")).count() >= 2
    assert_accessible(page)
