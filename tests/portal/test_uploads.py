"""The uploads pages in Chromium: every source listed and filtered, live status, cancel, stuck."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.portal.conftest import PortalSite, assert_accessible, screenshot

TOOLKIT_AGENT = "catalog-ingest/0.1.0"


def _row(page: Any, ingestion_id: str) -> Any:
    return page.locator(f"#uploads-table tr[data-ingestion-id='{ingestion_id}']")


def _column(page: Any, index: int) -> list[str]:
    cells = page.locator(f"#uploads-table tbody tr td:nth-child({index})")
    return [str(text).strip() for text in cells.all_inner_texts()]


def test_uploads_from_every_source_newest_first(editor_page: Any, portal_site: PortalSite) -> None:
    api = portal_site.sample_upload()
    push = portal_site.sample_upload(user_agent=TOOLKIT_AGENT)
    editor_page.goto(portal_site.portal("/uploads"))
    ids = editor_page.locator("#uploads-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.ingestionId)")
    assert ids.index(push) < ids.index(api)  # newest first
    assert _row(editor_page, api).locator("td").nth(3).inner_text() == "api"
    assert _row(editor_page, push).locator("td").nth(3).inner_text() == "push"
    theirs = portal_site.sample_upload(tenant=portal_site.other)
    editor_page.reload()
    assert _row(editor_page, theirs).count() == 0  # another retailer's upload is never listed
    assert_accessible(editor_page)
    screenshot(editor_page, "uploads")
    editor_page.set_viewport_size({"width": 768, "height": 1024})  # a tablet held upright
    width = editor_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768  # the page does not scroll sideways (a wide table scrolls in its box)
    screenshot(editor_page, "uploads-tablet")


def test_uploads_filters(editor_page: Any, portal_site: PortalSite) -> None:
    push = portal_site.sample_upload(user_agent=TOOLKIT_AGENT)
    cancelled = portal_site.sample_upload()
    answer = httpx.post(f"{portal_site.url}/v1/catalog/cancelCatalogUpload",
                        auth=portal_site.tenant.auth, json={"ingestionId": cancelled})
    assert answer.status_code == 200
    editor_page.goto(portal_site.portal("/uploads"))
    editor_page.get_by_label("Source").select_option("push")
    editor_page.get_by_role("button", name="Filter").click()
    editor_page.wait_for_url(re.compile(r"source=push"))
    assert set(_column(editor_page, 4)) == {"push"}
    assert _row(editor_page, push).count() == 1 and _row(editor_page, cancelled).count() == 0

    editor_page.get_by_label("Source").select_option("")
    editor_page.get_by_label("Status").select_option("CANCELLED")
    editor_page.get_by_role("button", name="Filter").click()
    editor_page.wait_for_url(re.compile(r"status=CANCELLED"))
    assert set(_column(editor_page, 5)) == {"CANCELLED"}
    assert _row(editor_page, cancelled).count() == 1

    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    editor_page.goto(portal_site.portal(f"/uploads?date_from={tomorrow}"))
    assert editor_page.locator("#uploads-table tbody tr").count() == 0
    assert editor_page.get_by_text("No uploads match these filters").is_visible()
    editor_page.goto(portal_site.portal(f"/uploads?date_from={today}&date_to={today}"))
    assert _row(editor_page, push).count() == 1
    editor_page.goto(portal_site.portal("/uploads?date_from=01/12/2026&status=BOGUS"))
    assert editor_page.get_by_text("is not a date: use the form YYYY-MM-DD").is_visible()
    assert editor_page.get_by_text("“BOGUS” is not a status.").is_visible()
    assert_accessible(editor_page)


def test_status_moves_to_done_live(editor_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload(n=4)
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    live = editor_page.locator("#upload-live")
    expect(live).to_have_attribute("data-status", "INQUEUE")
    assert editor_page.get_by_text("Items received").is_visible()
    editor_page.evaluate("window.__notReloaded = true")
    portal_site.run_worker()
    expect(live).to_have_attribute("data-status", "DONE")
    assert editor_page.evaluate("window.__notReloaded") is True  # the same page, updated
    facts = live.locator("dl[aria-label=Counts]")
    expect(facts).to_contain_text("Accepted")
    assert "4" in facts.locator("dt:has-text('Accepted') + dd").inner_text()
    expect(live.get_by_role("link", name="Read the report")).to_be_visible()
    expect(editor_page.locator("#status-announce")).to_have_text("Status: DONE.")
    assert live.get_by_role("button", name="Cancel this upload").count() == 0
    assert_accessible(editor_page)
    screenshot(editor_page, "upload-done")


def test_cancel_while_queued(editor_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    editor_page.get_by_role("button", name="Cancel this upload").click()
    expect(editor_page.get_by_text("Upload cancelled: nothing of it will be applied.")) \
        .to_be_visible()
    expect(editor_page.locator("#upload-live")).to_have_attribute("data-status", "CANCELLED")
    status = httpx.post(f"{portal_site.url}/v1/catalog/getCatalogUploadStatus",
                        auth=portal_site.tenant.auth, json={"ingestionId": ingestion_id})
    assert status.json()["processingStatus"] == "CANCELLED"  # the API's own cancel happened


def test_cancel_too_late_says_why(editor_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    portal_site.run_worker()  # done before the button is pressed
    button = editor_page.get_by_role("button", name="Cancel this upload")
    if button.count():  # the live panel may not have caught up yet: press it in time
        token = editor_page.locator("input[name=csrftoken]").first.input_value()
        editor_page.context.request.post(
            portal_site.portal(f"/uploads/{ingestion_id}/cancel"), form={"csrftoken": token})
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    expect(editor_page.locator("#upload-live")).to_have_attribute("data-status", "DONE")


def test_stuck_upload_shows_its_reason(editor_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    # No worker runs with this server; past PORTAL_STUCK_AFTER (2 s) the panel says so.
    reason = editor_page.locator("#stuck-reason")
    expect(reason).to_contain_text("No worker is running", timeout=20_000)
    expect(reason).to_contain_text("catalog-ingest worker")
    assert editor_page.locator("#upload-live").get_attribute("data-status") == "INQUEUE"
    editor_page.goto(portal_site.portal("/uploads"))
    expect(_row(editor_page, ingestion_id).get_by_text("STUCK")).to_be_visible()
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    assert_accessible(editor_page)
    screenshot(editor_page, "upload-stuck")
