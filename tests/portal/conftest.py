"""Browser-test fixtures: a real `serve` with two provisioned retailers, users of each role,
Debian's Chromium driven by Playwright, logged-in pages, an axe-core check.

Shared by every portal test module. The server runs WITHOUT a worker, so an upload stays
INQUEUE until a test runs one (`site.run_worker()`): live status and cancel are deterministic.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine import accounts
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.support.server import ServerProcess
from tests.support.tenants import Tenant, item, make_tenant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "portal-test-password"
SECRET = "ab" * 32
#: What the test server is told: stuck after 2 s in the queue; the address limit is out of the
#: way (every test logs in from 127.0.0.1), the account limit is the default 5 / 15 minutes.
SERVER_ENV = {
    "CATALOG_INGEST_SECRET_KEY": SECRET,
    "CATALOG_INGEST_PORTAL_STUCK_AFTER": "2",
    "CATALOG_INGEST_LOGIN_FAILURES_PER_ADDRESS": "10000/15 minutes",
}


@dataclass
class PortalSite:
    """The served portal and what was provisioned for it."""

    server: ServerProcess
    tenant: Tenant
    other: Tenant
    #: role -> e-mail, for users of `tenant`; "other-admin" is an admin of `other`.
    users: dict[str, str]
    password: str = PASSWORD
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def portal(self, path: str = "/") -> str:
        return f"{self.url}/portal{path}"

    def new_user(self, role: str = "editor", tenant: Tenant | None = None) -> str:
        """A fresh user (e.g. for a test that locks its account out); returns its e-mail."""
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        svc = open_runtime(_settings(self.data_dir))
        try:
            accounts.create_user(svc, (tenant or self.tenant).retailer_id, email, PASSWORD, role)
        finally:
            svc.close()
        return email

    def api_upload(self, items: list[dict[str, Any]], *, tenant: Tenant | None = None,
                   user_agent: str = "test-api-client/1.0") -> str:
        """An upload through the JWO API (source `api`, or `push` with the toolkit's agent)."""
        who = tenant or self.tenant
        response = httpx.post(
            f"{self.url}/v1/catalog/upload", auth=who.auth,
            content=json.dumps({"catalogItems": items}).encode(),
            headers={"content-type": "application/json", "user-agent": user_agent}, timeout=30,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["ingestionId"])

    def sample_upload(self, n: int = 3, **kwargs: Any) -> str:
        """An upload of `n` new, valid items (fresh SKUs and barcodes) to the first store."""
        store = (kwargs.get("tenant") or self.tenant).stores[0]
        items = [item(f"SKU-{code}", code, store) for code in new_barcodes(n)]
        return self.api_upload(items, **kwargs)

    def run_worker(self) -> None:
        """Process everything queued, in a separate `catalog-ingest worker --once` process."""
        env = {**os.environ, "CATALOG_INGEST_DATA_DIR": str(self.data_dir), **SERVER_ENV}
        subprocess.run([sys.executable, "-m", "catalog_ingest", "worker", "--once"], env=env,
                       check=True, capture_output=True, timeout=120)


def new_barcodes(n: int) -> list[str]:
    """`n` valid EAN-13 barcodes, consecutive from a random start (no clash in practice)."""
    start = random.randrange(10**11, 9 * 10**11)
    bodies = [f"2{start + i:011d}" for i in range(n)]
    return [body + str(gs1_check_digit(body)) for body in bodies]


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key=bytes.fromhex(SECRET))


def _provision(data_dir: Path) -> tuple[Tenant, Tenant, dict[str, str]]:
    svc = open_runtime(_settings(data_dir))
    try:
        tenant = make_tenant(svc, "Retailer <One>", ["store-01", "store-02"])
        other = make_tenant(svc, "Retailer Two", ["other-01"])
        users = {}
        for role in ("admin", "editor", "viewer"):
            users[role] = f"{role}@one.example.com"
            accounts.create_user(svc, tenant.retailer_id, users[role], PASSWORD, role)
        users["other-admin"] = "admin@two.example.com"
        accounts.create_user(svc, other.retailer_id, users["other-admin"], PASSWORD, "admin")
    finally:
        svc.close()
    return tenant, other, users


@pytest.fixture(scope="session")
def portal_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSite]:
    data_dir = tmp_path_factory.mktemp("portal") / "data"
    tenant, other, users = _provision(data_dir)
    server = ServerProcess(data_dir, env=SERVER_ENV, args=["--no-worker"])
    server.start()
    try:
        yield PortalSite(server, tenant, other, users)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in this thread while it is open, and later tests of other modules in
    the same process call asyncio.run()."""
    if not Path(CHROMIUM).exists():
        missing = "browser tests SKIPPED: Chromium missing (apt-get install -y chromium)"
        if os.environ.get("CATALOG_INGEST_REQUIRE_BROWSER") == "1":
            pytest.fail(missing.replace("SKIPPED", "cannot run"))
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any, portal_site: PortalSite) -> Iterator[Any]:
    ctx = browser.new_context(base_url=portal_site.url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def log_in(page: Any, site: PortalSite, email: str, password: str = PASSWORD) -> None:
    """Log in through the form, like a person (lands on the uploads page)."""
    page.goto(site.portal("/login"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/uploads**")


@pytest.fixture
def admin_page(page: Any, portal_site: PortalSite) -> Any:
    log_in(page, portal_site, portal_site.users["admin"])
    return page


@pytest.fixture
def editor_page(page: Any, portal_site: PortalSite) -> Any:
    log_in(page, portal_site, portal_site.users["editor"])
    return page


@pytest.fixture
def viewer_page(page: Any, portal_site: PortalSite) -> Any:
    log_in(page, portal_site, portal_site.users["viewer"])
    return page


def assert_accessible(page: Any) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    report = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5])
              for v in bad]
    assert not bad, f"accessibility violations on {page.url}: {report}"


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for docs/portal.md (docs/portal/NAME.png) when
    CATALOG_INGEST_SCREENSHOTS=1 (so ordinary runs leave the work tree alone)."""
    if os.environ.get("CATALOG_INGEST_SCREENSHOTS") != "1":
        return
    out = Path(__file__).resolve().parents[2] / "docs" / "portal" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
