"""Session cookie rules without a browser: idle expiry, Secure under https, the front door."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.engine import accounts
from catalog_ingest.runtime import Runtime
from tests.support.tenants import Tenant

PASSWORD = "session-test-password"


def _client(svc: Runtime, base_url: str = "http://testserver", **settings: object
            ) -> TestClient:
    runtime = replace(svc, settings=replace(svc.settings, **settings))
    return TestClient(create_app(runtime.settings, runtime=runtime), base_url=base_url)


def _log_in(client: TestClient, email: str) -> httpx.Response:
    page = client.get("/portal/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token is not None
    return client.post("/portal/login", data={"csrftoken": token.group(1), "email": email,
                                              "password": PASSWORD})


@pytest.fixture
def user(svc: Runtime, tenant: Tenant) -> Iterator[str]:
    accounts.create_user(svc, tenant.retailer_id, "sess@example.com", PASSWORD, "viewer")
    yield "sess@example.com"


def test_front_door_redirects(svc: Runtime) -> None:
    with _client(svc) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/portal/"
        login = client.get("/portal/", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"].startswith("/portal/login")
        assert client.get("/portal", follow_redirects=True).url.path == "/portal/login"


def test_session_cookie_attributes(svc: Runtime, user: str) -> None:
    with _client(svc) as client:
        answer = _log_in(client, user)
        cookies = answer.history[0].headers.get_list("set-cookie")
    cookie = next(c for c in cookies if c.startswith("portal_session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower() and "path=/portal" in cookie.lower()


def test_secure_cookies_under_an_https_public_url(svc: Runtime, user: str) -> None:
    with _client(svc, "https://portal.example", public_url="https://portal.example") as client:
        first = client.get("/portal/login").headers.get_list("set-cookie")
        answer = _log_in(client, user)
        cookies = answer.history[0].headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("portal_session="))
    assert "; secure" in session.lower()
    csrf = next(c for c in first if c.startswith("portal_csrftoken="))
    assert "; secure" in csrf.lower()


def test_idle_session_ends_with_a_message(svc: Runtime, user: str) -> None:
    with _client(svc, portal_session_idle=0) as client:
        answer = _log_in(client, user)  # the very next request is already past the idle time
        assert answer.url.path == "/portal/login"
        assert "Your session ended after a while without activity" in answer.text


def test_active_session_stays(svc: Runtime, user: str) -> None:
    with _client(svc) as client:
        answer = _log_in(client, user)
        assert answer.url.path == "/portal/uploads"
        assert client.get("/portal/uploads").url.path == "/portal/uploads"
