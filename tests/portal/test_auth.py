"""Log-in, log-out, throttling, CSRF, stale forms and the roles, in Chromium against `serve`."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.portal.conftest import PASSWORD, PortalSite, assert_accessible, log_in, screenshot


def _login_error(page: Any) -> str:
    return str(page.locator("#login-error").inner_text())


def _try(page: Any, site: PortalSite, email: str, password: str) -> str:
    page.goto(site.portal("/login"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#login-error").wait_for()
    return _login_error(page)


def test_root_redirects_to_the_log_in_page(page: Any, portal_site: PortalSite) -> None:
    page.goto(portal_site.url + "/")
    assert re.search(r"/portal/login", page.url)
    assert page.get_by_role("heading", name="Log in").is_visible()
    assert_accessible(page)
    screenshot(page, "login")


def test_log_in_and_log_out(page: Any, portal_site: PortalSite) -> None:
    log_in(page, portal_site, portal_site.users["editor"])
    assert page.get_by_text("Logged in as editor@one.example.com").is_visible()
    assert page.locator("header").get_by_text("Retailer <One>").is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["portal_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and not session["secure"]
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/portal/login")
    assert page.get_by_text("You are logged out.").is_visible()
    page.goto(portal_site.portal("/uploads"))
    assert "/portal/login" in page.url  # the session is gone


def test_wrong_password_names_no_account(page: Any, portal_site: PortalSite) -> None:
    email = portal_site.new_user("viewer")
    assert _try(page, portal_site, email, "not-the-password") == \
        "Wrong e-mail address or password."
    assert _try(page, portal_site, "nobody@example.com", "whatever-else") == \
        "Wrong e-mail address or password."
    assert page.get_by_label("E-mail address").input_value() == "nobody@example.com"
    assert_accessible(page)


def test_failed_log_ins_are_slowed_then_refused(page: Any, portal_site: PortalSite) -> None:
    email = portal_site.new_user("editor")
    messages = [_try(page, portal_site, email, f"wrong-{n}") for n in range(5)]
    assert messages[0] == messages[1] == "Wrong e-mail address or password."
    assert "slowed down" in messages[2] and "after 2 more failed attempts" in messages[2]
    assert "slowed down" in messages[3]
    assert "refused for 15 minutes" in messages[4]
    screenshot(page, "login-refused")
    # Now even the right password is refused, with the same explanation.
    refused = _try(page, portal_site, email, PASSWORD)
    assert refused.startswith("Too many failed log-in attempts for this account")
    assert "/portal/login" in page.url


def test_post_without_or_with_forged_csrf_token_changes_nothing(
        editor_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    cancel = portal_site.portal(f"/uploads/{ingestion_id}/cancel")
    request = editor_page.context.request  # the browser's own cookies: a logged-in session
    missing = request.post(cancel, form={"other": "x"})
    forged = request.post(cancel, form={"csrftoken": "forged.token-value"})
    header = request.post(cancel, headers={"x-csrftoken": "forged"}, form={"a": "b"})
    for answer in (missing, forged, header):
        assert answer.status == 403
        assert "This form has expired" in answer.text()
        assert "Traceback" not in answer.text()
    editor_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    assert editor_page.locator("#upload-live").get_attribute("data-status") == "INQUEUE"


def test_cross_site_post_without_cookies_cannot_log_in(portal_site: PortalSite) -> None:
    answer = httpx.post(portal_site.portal("/login"), data={
        "email": portal_site.users["admin"], "password": PASSWORD})
    assert answer.status_code == 403
    assert "portal_session" not in answer.cookies


def test_stale_forms_get_a_clear_message(browser: Any, portal_site: PortalSite) -> None:
    ctx = browser.new_context(base_url=portal_site.url)
    try:
        page = ctx.new_page()
        log_in(page, portal_site, portal_site.users["editor"])
        ingestion_id = portal_site.sample_upload()
        page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
        # The form's token no longer matches (another tab logged in again, say).
        token = next(c for c in ctx.cookies() if c["name"] == "portal_csrftoken")
        ctx.add_cookies([{**token, "value": "IkFub3RoZXIi.not-the-forms-token"}])
        page.get_by_role("button", name="Cancel this upload").click()
        assert page.get_by_role("heading", name="This form has expired").is_visible()
        assert page.get_by_text("Nothing was changed").is_visible()
        assert_accessible(page)
        screenshot(page, "stale-form")
        # The session is gone altogether (the browser dropped its cookies).
        page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
        ctx.clear_cookies()
        page.get_by_role("button", name="Cancel this upload").click()
        page.wait_for_url("**/portal/login**")
        assert page.get_by_text("that was not done. Log in and try again").is_visible()
        log_in(page, portal_site, portal_site.users["editor"])
        page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
        assert page.locator("#upload-live").get_attribute("data-status") == "INQUEUE"
    finally:
        ctx.close()


def test_viewer_is_refused_changes(viewer_page: Any, portal_site: PortalSite) -> None:
    ingestion_id = portal_site.sample_upload()
    viewer_page.goto(portal_site.portal(f"/uploads/{ingestion_id}"))
    assert viewer_page.get_by_role("button", name="Cancel this upload").count() == 0
    token = viewer_page.locator("input[name=csrftoken]").first.input_value()
    answer = viewer_page.context.request.post(
        portal_site.portal(f"/uploads/{ingestion_id}/cancel"), form={"csrftoken": token})
    assert answer.status == 403
    assert "Your role (viewer) cannot do this" in answer.text()
    viewer_page.reload()
    assert viewer_page.locator("#upload-live").get_attribute("data-status") == "INQUEUE"
    assert viewer_page.get_by_role("link", name="Integration").count() == 0
    viewer_page.goto(portal_site.portal("/integration"))
    assert viewer_page.get_by_role("heading", name="Not allowed").is_visible()
    assert_accessible(viewer_page)


def test_another_retailers_upload_is_not_found(admin_page: Any, portal_site: PortalSite) -> None:
    theirs = portal_site.sample_upload(tenant=portal_site.other)
    for path in (f"/uploads/{theirs}", f"/uploads/{theirs}/status", "/uploads/no-such-id"):
        answer = admin_page.goto(portal_site.portal(path))
        assert answer.status == 404
        assert admin_page.get_by_role("heading", name="Not found").is_visible()
    token = admin_page.locator("input[name=csrftoken]").first.input_value()
    answer = admin_page.context.request.post(portal_site.portal(f"/uploads/{theirs}/cancel"),
                                             form={"csrftoken": token})
    assert answer.status == 404
    assert_accessible(admin_page)
    screenshot(admin_page, "not-found")
    other = httpx.post(f"{portal_site.url}/v1/catalog/getCatalogUploadStatus",
                       auth=portal_site.other.auth, json={"ingestionId": theirs})
    assert other.json()["processingStatus"] == "INQUEUE"  # not cancelled


def test_unknown_portal_page_is_a_friendly_404(page: Any, portal_site: PortalSite) -> None:
    answer = page.goto(portal_site.portal("/no/such/page"))
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
