"""Integration health (admins): access keys and their last use, notification subscriptions and
the delivery log, Merchant-Center status counts per store."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import portal_queries as queries
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.portal.context import NavLink, Portal

NAV = (NavLink("Integration", "/integration", role=Role.ADMIN, order=80),)


def routes(portal: Portal) -> list[BaseRoute]:
    async def health(request: Request, user: PortalUser) -> Response:
        report = await portal.call(queries.integration_health, portal.runtime, user.retailer_id,
                                   status=portal.merchant_center)
        return portal.render(request, "integration.html", health=report)

    return [portal.route("/integration", health, role=Role.ADMIN, name="integration")]
