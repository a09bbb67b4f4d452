"""The upload, check, report and catalog pages over HTTP, against the real engine."""

from __future__ import annotations

from typing import Any

from catalog_ingest.engine.worker import drain
from catalog_ingest.runtime import Runtime
from tests.portal_engine.test_file_check import HEADER, ean
from tests.portal_pages.conftest import Browser


def upload(browser: Browser, text: str | bytes, name: str = "cat.csv",
           **fields: str) -> Any:
    content = text.encode() if isinstance(text, str) else text
    return browser.post("/upload", fields, files={"file": (name, content)})


def test_check_submit_report_and_catalog(editor: Browser, svc: Runtime) -> None:
    text = HEADER + (f"A,{ean(1)},<script>alert(1)</script>,store-01,1\n"
                     f"B,{ean(1)},Thief,store-01,1\nC,123,=cmd|calc,store-01,1\n")
    response = upload(editor, text)
    assert response.status_code == 303, response.text
    check = editor.get(response.headers["location"].removeprefix("/portal"))
    assert check.status_code == 200
    assert "BARCODE_CONFLICT" in check.text and "INVALID_BARCODE" in check.text
    assert "<script>alert(1)" not in check.text
    problems = editor.client.get(response.headers["location"] + "/problems")
    assert problems.status_code == 200 and b"'=cmd|calc" in problems.content
    submitted = editor.post(response.headers["location"].removeprefix("/portal") + "/submit")
    assert submitted.status_code == 303
    upload_page = submitted.headers["location"]
    assert upload_page.startswith("/portal/uploads/")
    assert drain(svc) == ["DONE"]
    ingestion_id = upload_page.rsplit("/", 1)[1]
    report = editor.get(f"/uploads/{ingestion_id}/report?status=ACCEPTED")
    assert report.status_code == 200 and "store-01" in report.text
    assert "&lt;script&gt;" not in report.text or "<script>alert" not in report.text
    assert editor.client.get(f"/portal/uploads/{ingestion_id}/report.json").json()[
        "processingStatus"] == "DONE"
    assert editor.client.get(f"/portal/uploads/{ingestion_id}/report.zip?store=store-01"
                             ).status_code == 200
    assert editor.client.get(f"/portal/uploads/{ingestion_id}/errors").status_code == 200
    found = editor.get(f"/catalog?store=store-01&q={ean(1)[:4]}+{ean(1)[4:]}")
    assert found.status_code == 200 and ">A</a>" in found.text
    item = editor.get("/catalog/item?store=store-01&sku=A")
    assert item.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in item.text


def test_bad_files_get_a_message_on_the_page(editor: Browser) -> None:
    for content, name, needle in [(b"", "e.csv", "The file is empty"),
                                  (b"PK\x03\x04garbage", "b.xlsx", "not a readable Excel"),
                                  (b"a,b\n1,2\n", "x.csv", "no column of the file")]:
        response = upload(editor, content, name)
        assert response.status_code == 400, (name, response.status_code)
        assert needle in response.text, (name, response.text[:3000])


def test_an_upload_without_its_form_token_is_refused_and_nothing_kept(
        editor: Browser, svc: Runtime) -> None:
    editor.token = "forged"
    response = upload(editor, HEADER + f"A,{ean(1)},Apple,store-01,1\n")
    assert response.status_code == 403 and "This form has expired" in response.text
    staging = svc.settings.data_dir / "portal-staging"
    assert not any(staging.iterdir()) if staging.exists() else True


def test_a_file_over_the_limit_is_refused_before_it_is_read(small_editor: Browser) -> None:
    big = HEADER + "x" * 5000
    response = upload(small_editor, big)
    assert response.status_code == 413 and "larger than the limit" in response.text
    assert "Check the file" in response.text  # the form again, to choose another file


def test_a_stale_edit_form_sends_nothing(editor: Browser, svc: Runtime) -> None:
    response = upload(editor, HEADER + f"A,{ean(1)},Apple,store-01,1\n")
    editor.get(response.headers["location"].removeprefix("/portal"))
    editor.post(response.headers["location"].removeprefix("/portal") + "/submit")
    assert drain(svc) == ["DONE"]
    form = editor.get("/catalog/item/edit?store=store-01&sku=A")
    assert form.status_code == 200
    fields = {"store": "store-01", "sku": "A", "version": "an-older-upload", "nonce": "n1",
              "external_product_id": ean(1), "item_name": "Renamed"}
    stale = editor.post("/catalog/item/edit", fields)
    assert stale.status_code == 409 and "changed" in stale.text
    assert drain(svc) == []
    bad = editor.post("/catalog/item/edit", {**fields, "version": _version(editor),
                                             "standard_price": "4,99"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    assert drain(svc) == []


def _version(editor: Browser) -> str:
    import re

    page = editor.get("/catalog/item/edit?store=store-01&sku=A")
    found = re.search(r'name="version" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_a_large_file_becomes_a_batch_page_of_uploads(editor: Browser, svc: Runtime) -> None:
    rows = "".join(f"S{n:06d},{ean(n)},Item {n},store-01,1\n" for n in range(10_001))
    response = upload(editor, HEADER + rows)
    check = response.headers["location"].removeprefix("/portal")
    page = editor.get(check)
    assert "Submit 10,001 rows" in page.text and "as 2" in page.text
    submitted = editor.post(check + "/submit")
    batch = submitted.headers["location"]
    assert batch.startswith("/portal/batches/")
    live = editor.get(batch.removeprefix("/portal"))
    assert live.status_code == 200 and live.text.count("status-inqueue") == 2
    assert 'hx-trigger="every 1s"' in live.text
    assert drain(svc) == ["DONE", "DONE"]
    done = editor.get(batch.removeprefix("/portal") + "/rows", headers={"hx-request": "true"})
    assert done.text.count("status-done") == 2 and "hx-trigger" not in done.text
    again = editor.post(check + "/submit")  # a resent form: the same batch, nothing new
    assert again.headers["location"] == batch and drain(svc) == []


def test_an_api_upload_whose_payload_retention_deleted_says_so(editor: Browser, svc: Runtime,
                                                               tenant: Any) -> None:
    from catalog_ingest.engine import intake
    from catalog_ingest.engine.reports import payload_key

    body = (b'{"catalogItems": [{"item_sku": "Z", "external_product_id": "123", '
            b'"item_name": "Bad", "store_id": "store-01"}]}')
    ingestion_id = intake.submit_upload(svc, tenant.retailer_id, body)
    assert drain(svc) == ["DONE"]
    errors = editor.client.get(f"/portal/uploads/{ingestion_id}/errors")
    assert errors.status_code == 200 and b"INVALID_BARCODE" in errors.content
    svc.blobs.delete(payload_key(ingestion_id))
    gone = editor.client.get(f"/portal/uploads/{ingestion_id}/errors")
    assert gone.status_code == 410 and "no longer kept" in gone.text
    zipped = editor.client.get(f"/portal/uploads/{ingestion_id}/report.zip?store=store-01")
    assert zipped.status_code == 200
