"""The registry of portal pages: each module contributes `routes(portal)` and its `NAV` links.

A page module is one area of the portal: auth (log in/out), uploads (watch, cancel),
integration (health), upload (check and submit a file), report (per-upload results),
catalog (browse and edit). To add an area, add its module to PAGE_MODULES.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from catalog_ingest.portal.context import NavLink
from catalog_ingest.portal.pages import auth, catalog, integration, report, upload, uploads

PAGE_MODULES: tuple[ModuleType, ...] = (auth, uploads, upload, report, catalog, integration)


def nav_links() -> Sequence[NavLink]:
    return [link for module in PAGE_MODULES for link in getattr(module, "NAV", ())]
