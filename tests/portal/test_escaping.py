"""What people type is shown as text, never run: `<script>` and `=cmd` in names on every page."""

from __future__ import annotations

from typing import Any

from catalog_ingest.engine import accounts
from catalog_ingest.runtime import open_runtime
from catalog_ingest.storage import admin
from tests.portal.conftest import PASSWORD, PortalSite, _settings, log_in

HOSTILE_RETAILER = "<script>window.__xss = 1</script> =cmd|' /C calc'!A0"
HOSTILE_STORE = "<img src=x onerror=\"window.__xss = 2\"> =HYPERLINK(\"http://x\")"


def test_hostile_names_are_escaped(page: Any, portal_site: PortalSite) -> None:
    svc = open_runtime(_settings(portal_site.data_dir))
    try:
        with svc.db.write() as conn:
            retailer_id = admin.create_retailer(conn, HOSTILE_RETAILER)
            admin.add_store(conn, retailer_id, "xss-store-1", HOSTILE_STORE)
        email = f"admin@{retailer_id}.example.com"
        accounts.create_user(svc, retailer_id, email, PASSWORD, "admin")
    finally:
        svc.close()
    log_in(page, portal_site, email)
    for path in ("/uploads", "/integration", "/uploads?status=%3Cscript%3E"):
        page.goto(portal_site.portal(path))
        assert page.evaluate("window.__xss") is None
        assert page.locator("header").get_by_text(HOSTILE_RETAILER).is_visible()
        assert page.locator("script:not([src])").count() == 0
    page.goto(portal_site.portal("/integration"))
    assert page.locator("#mmc-table").get_by_text(HOSTILE_STORE).is_visible()
    assert page.locator("img").count() == 0
    page.goto(portal_site.portal("/uploads?date_from=<b>x</b>"))
    assert page.get_by_text("“<b>x</b>” is not a date").is_visible()
