"""Fixtures for the portal page tests over HTTP (Starlette's TestClient, in-process)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from catalog_ingest.app import create_app
from catalog_ingest.engine import accounts
from catalog_ingest.runtime import Runtime
from tests.support.tenants import Tenant

PASSWORD = "portal-page-password"
_TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


@dataclass
class Browser:
    """A logged-in TestClient that knows the page's CSRF token."""

    client: TestClient
    token: str = ""

    def get(self, path: str, **kwargs: object) -> object:
        response = self.client.get("/portal" + path, **kwargs)  # type: ignore[arg-type]
        found = _TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None,
             files: dict[str, tuple[str, bytes]] | None = None) -> object:
        fields = {"csrftoken": self.token, **(data or {})}
        return self.client.post("/portal" + path, data=fields, files=files,
                                follow_redirects=False)


def login(client: TestClient, email: str) -> Browser:
    browser = Browser(client)
    browser.get("/login")
    response = browser.post("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    browser.get("/upload")
    return browser


@pytest.fixture
def editor(svc: Runtime, tenant: Tenant) -> Iterator[Browser]:
    accounts.create_user(svc, tenant.retailer_id, "editor@example.com", PASSWORD, "editor")
    app = create_app(svc.settings, runtime=svc)
    with TestClient(app, base_url="http://testserver") as client:
        yield login(client, "editor@example.com")


@pytest.fixture
def small_editor(svc: Runtime, tenant: Tenant) -> Iterator[Browser]:
    """An editor of a portal whose upload limit is 4 KiB."""
    accounts.create_user(svc, tenant.retailer_id, "small@example.com", PASSWORD, "editor")
    small = dataclasses.replace(svc, settings=svc.settings.replace(portal_max_upload_bytes=4096))
    app = create_app(small.settings, runtime=small)
    with TestClient(app, base_url="http://testserver") as client:
        yield login(client, "small@example.com")
