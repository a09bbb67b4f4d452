"""Each store's catalog: search, filters, the item page; edit, archive, reactivate."""

from __future__ import annotations

from starlette.routing import BaseRoute

from catalog_ingest.portal.context import NavLink, Portal

NAV: tuple[NavLink, ...] = ()


def routes(portal: Portal) -> list[BaseRoute]:
    del portal
    return []
