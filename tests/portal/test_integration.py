"""The integration health page in Chromium: keys and last use, subscriptions, deliveries, counts."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from catalog_ingest.notify import subscriptions
from catalog_ingest.runtime import open_runtime
from tests.portal.conftest import PortalSite, _settings, assert_accessible, screenshot


def _subscribe(site: PortalSite, url: str) -> None:
    svc = open_runtime(_settings(site.data_dir))
    try:
        with svc.db.write() as conn:
            subscriptions.subscribe_http(conn, site.tenant.retailer_id, url)
    finally:
        svc.close()


def test_integration_health(admin_page: Any, portal_site: PortalSite) -> None:
    # A subscription nobody listens to: its confirmation delivery fails and is logged.
    _subscribe(portal_site, "http://127.0.0.1:9/catalog-hook")
    portal_site.sample_upload(n=2)  # uses the tenant's key, and gives the store items
    portal_site.run_worker()  # processes it and attempts the pending delivery
    admin_page.goto(portal_site.portal("/integration"))
    keys = admin_page.locator("#keys-table")
    key_row = keys.locator("tr", has_text=portal_site.tenant.access_key_id)
    expect(key_row).to_be_visible()
    assert "never" not in key_row.locator("td").nth(2).inner_text()  # its use was recorded
    subs = admin_page.locator("#subscriptions-table")
    expect(subs).to_contain_text("http://127.0.0.1:9/catalog-hook")
    expect(subs).to_contain_text("pending confirmation")
    deliveries = admin_page.locator("#deliveries-table")
    expect(deliveries).to_contain_text("failed")
    expect(deliveries).to_contain_text("SubscriptionConfirmation")
    store = admin_page.locator("#mmc-table tr[data-store='store-01']")
    assert int(store.locator(".published").inner_text().replace(",", "")) >= 2
    assert admin_page.locator("#mmc-table tr[data-store='other-01']").count() == 0
    assert portal_site.other.access_key_id not in keys.inner_text()
    assert_accessible(admin_page)
    screenshot(admin_page, "integration")


def test_integration_is_for_admins_only(editor_page: Any, portal_site: PortalSite) -> None:
    assert editor_page.get_by_role("link", name="Integration").count() == 0
    answer = editor_page.goto(portal_site.portal("/integration"))
    assert answer is not None and answer.status == 403
    expect(editor_page.get_by_text("Your role (editor) cannot do this")).to_be_visible()
