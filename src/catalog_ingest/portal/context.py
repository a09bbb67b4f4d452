"""What every portal page module gets: the runtime, the templates and the page guard.

A page module writes `def routes(portal: Portal) -> list[BaseRoute]` and builds each route with
`portal.route(path, handler, role=...)`; the handler is `async (request, user) -> Response`.
It parses the request, calls the service layer (`await portal.call(fn, ...)` runs blocking
service code in a thread) and returns `portal.render(...)` or `portal.redirect(...)`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from catalog_ingest.engine.accounts import Accounts, PortalUser, Role, get_user
from catalog_ingest.engine.merchant_center import StatusService
from catalog_ingest.portal import formatting, sessions
from catalog_ingest.portal.errors import PageError
from catalog_ingest.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")
PREFIX = "/portal"
TEMPLATES = Path(__file__).with_name("templates")
Handler = Callable[[Request, PortalUser], Awaitable[Response]]


@dataclass(frozen=True)
class NavLink:
    """An entry of the navigation bar, shown to users whose role allows `role`."""

    label: str
    path: str
    role: Role = Role.VIEWER
    order: int = 50


def url(path: str, **query: Any) -> str:
    """The absolute path of a portal page: `url("/uploads", status="DONE")`."""
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + path + ("?" + urlencode(params, doseq=True) if params else "")


def make_environment() -> jinja2.Environment:
    """Templates with autoescape on for every file (user input is always escaped)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals["url"] = url
    env.filters.update(formatting.FILTERS)
    return env


class Portal:
    """The shared handles of the portal's page modules (one per app)."""

    def __init__(self, runtime: Runtime, nav: Sequence[NavLink] = ()) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.accounts = Accounts(runtime)
        #: The Merchant-Center Status service (its per-store count cache), for the counts.
        self.merchant_center = StatusService(runtime)
        self.env = make_environment()
        self.nav = sorted(nav, key=lambda link: (link.order, link.label))

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking service code (database, blobs, hashing) off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    # --- rendering -----------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        """A page (or an htmx fragment) with what every template may use."""
        user = getattr(request.state, "user", None)
        base = {
            "request": request, "user": user, "csrf_token": sessions.csrf_token(request),
            "messages": sessions.pop_flashes(request), "nav": self.nav_for(user, request),
            "now": time.time(), "Role": Role,
        }
        body = self.env.get_template(template).render({**base, **context})
        return HTMLResponse(body, status, headers=headers)

    def nav_for(self, user: PortalUser | None, request: Request) -> list[dict[str, Any]]:
        if user is None:
            return []
        path = request.url.path
        return [{"label": link.label, "href": url(link.path),
                 "current": path == url(link.path) or path.startswith(url(link.path) + "/")}
                for link in self.nav if user.role.allows(link.role)]

    def redirect(self, request: Request, path: str, message: str | None = None,
                 level: str = "info", **query: Any) -> Response:
        """303 to a portal page (POST-redirect-GET), with a message shown there."""
        if message:
            sessions.flash(request, message, level)
        target = url(path, **query)
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    # --- routes and the guard ------------------------------------------------------------

    def route(self, path: str, handler: Handler, *, methods: Sequence[str] = ("GET",),
              role: Role = Role.VIEWER, background: bool = False,
              name: str | None = None) -> Route:
        """A route whose handler runs only for a logged-in user whose role allows `role`.

        `background` marks requests the page makes by itself (status polling): they do not
        count as activity, so an open page alone does not keep a session alive.
        """
        async def endpoint(request: Request) -> Response:
            user = await self.current_user(request, touch=not background)
            if user is None:
                return self.login_redirect(request)
            if not user.role.allows(role):
                raise PageError(403, "Not allowed",
                                f"Your role ({user.role.value}) cannot do this: "
                                f"it needs the {role.value} role. Ask an administrator of "
                                f"{user.retailer_name} if you need it.")
            return await handler(request, user)

        return Route(path, endpoint, methods=list(methods), name=name)

    async def current_user(self, request: Request, touch: bool = True) -> PortalUser | None:
        """The session's user (also put on request.state.user), or None."""
        user_id = sessions.user_id(request, self.settings.portal_session_idle, touch=touch)
        if user_id is None:
            return None
        user = await self.call(get_user, self.runtime, user_id)
        if user is None:
            sessions.logout(request)
            return None
        request.state.user = user
        return user

    def login_redirect(self, request: Request) -> Response:
        """To the log-in page, coming back here afterwards (htmx: a full-page redirect)."""
        htmx = bool(request.headers.get("hx-request"))
        back = request.url.path if request.method == "GET" and not htmx else None
        if request.method != "GET":
            sessions.flash(request, "You are not logged in any more (your session ended), so "
                           "that was not done. Log in and try again.", "error")
        target = url("/login", next=back)
        if htmx:
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
