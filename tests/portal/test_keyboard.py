"""The portal with the keyboard alone: log in, reach an upload, cancel it; focus is visible."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.portal.conftest import PASSWORD, PortalSite


def _tab_to(page: Any, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element's accessible text is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            r" return e.id || (e.textContent || e.value || '').replace(/\s+/g, ' ').trim(); }")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def test_keyboard_only(page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    page.goto(portal_site.portal("/login"))
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    _tab_to(page, "f-email")
    page.keyboard.type(portal_site.users["editor"])
    _tab_to(page, "f-password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/uploads**")
    _tab_to(page, ingestion_id[:8] + " (upload " + ingestion_id + ")")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus ring is drawn
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/uploads/{ingestion_id}")
    _tab_to(page, "Cancel this upload")
    page.keyboard.press("Enter")
    expect(page.locator("#upload-live")).to_have_attribute("data-status", "CANCELLED")
