"""placeholder"""

from __future__ import annotations

from starlette.routing import BaseRoute

from catalog_ingest.portal.context import NavLink, Portal

NAV: tuple[NavLink, ...] = ()


def routes(portal: Portal) -> list[BaseRoute]:
    del portal
    return []
