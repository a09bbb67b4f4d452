"""Log in and log out, and the portal's front door (`/portal/` → the uploads page)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from catalog_ingest.engine.accounts import PortalUser
from catalog_ingest.portal import sessions
from catalog_ingest.portal.context import PREFIX, NavLink, Portal, url

NAV: tuple[NavLink, ...] = ()
HOME = "/uploads"


def _safe_next(target: str | None) -> str:
    """Only a portal path (never another site) is a place to come back to after log-in."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") \
            and "\\" not in target and not target.startswith(PREFIX + "/login"):
        return target
    return url(HOME)


def routes(portal: Portal) -> list[BaseRoute]:
    async def login_form(request: Request) -> Response:
        if await portal.current_user(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        expired = sessions.take_expired(request)
        message = ("Your session ended after a while without activity; log in again."
                   if expired else None)
        return portal.render(request, "login.html", email="", error=None, notice=message,
                             next=request.query_params.get("next", ""))

    async def login_submit(request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email", ""))
        password = str(form.get("password", ""))
        back = str(form.get("next", ""))
        address = request.client.host if request.client else "unknown"
        if not email.strip() or not password:
            return portal.render(request, "login.html", status=400, email=email, notice=None,
                                 error="Enter your e-mail address and your password.", next=back)
        outcome = await portal.call(portal.accounts.login, email, password, address)
        if outcome.user is None:
            if outcome.delay:
                await asyncio.sleep(outcome.delay)  # the slow-down itself
            return portal.render(request, "login.html", status=429 if outcome.refused else 401,
                                 email=email, error=outcome.message, notice=None, next=back)
        sessions.login(request, outcome.user)
        sessions.flash(request, f"Logged in as {outcome.user.email}.", "success")
        return RedirectResponse(_safe_next(back), status_code=303)

    async def logout(request: Request, user: PortalUser) -> Response:
        sessions.logout(request)
        sessions.flash(request, "You are logged out.", "success")
        return RedirectResponse(url("/login"), status_code=303)

    async def home(request: Request, user: PortalUser) -> Response:
        return RedirectResponse(url(HOME), status_code=303)

    return [
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login_submit, methods=["POST"]),
        portal.route("/logout", logout, methods=["POST"], name="logout"),
        portal.route("/", home, name="home"),
    ]
