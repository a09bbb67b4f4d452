"""The portal as one ASGI app mounted at /portal: session, CSRF, error pages, every page module.

Layers, outermost first: asgi-csrf (double-submit token on every POST/PUT/PATCH/DELETE: a form
field `csrftoken`, first in the form, or the `x-csrftoken` header that htmx sends), Starlette's
signed-cookie session, the error renderer, the routes the page modules contribute.
"""

from __future__ import annotations

from pathlib import Path

from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from catalog_ingest.portal import errors, pages, sessions
from catalog_ingest.portal.context import PREFIX, Portal
from catalog_ingest.runtime import Runtime
from catalog_ingest.settings import Settings

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "portal_session"
CSRF_COOKIE = sessions.CSRF_COOKIE
#: Longest life of a session cookie whatever the activity; idling ends it much sooner.
SESSION_MAX_AGE = 12 * 3600
#: POST paths whose multipart bodies the page streams to disk (and checks the CSRF token of).
STREAMED_UPLOADS = frozenset({PREFIX + "/upload"})


def _key(secret: bytes, purpose: str) -> str:
    return sessions.portal_key(secret, purpose)


def secure_cookies(settings: Settings) -> bool:
    """Cookies are marked Secure whenever the public URL is https."""
    return (settings.public_url or "").lower().startswith("https://")


def build(runtime: Runtime) -> tuple[ASGIApp, Portal]:
    """The portal ASGI app (expects to be mounted at PREFIX) and its shared handles."""
    settings = runtime.settings
    portal = Portal(runtime, pages.nav_links())
    routes: list[BaseRoute] = [Mount("/static", StaticFiles(directory=STATIC), name="static")]
    for module in pages.PAGE_MODULES:
        routes.extend(module.routes(portal))
    secure = secure_cookies(settings)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SessionMiddleware, secret_key=_key(settings.secret_key, "session"),
                               session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE,
                               path=PREFIX, same_site="lax", https_only=secure)],
        exception_handlers=errors.handlers(portal.env),
    )
    protected: ASGIApp = asgi_csrf(
        app, cookie_name=CSRF_COOKIE, signing_secret=_key(settings.secret_key, "csrf"),
        cookie_path=PREFIX, cookie_secure=secure, cookie_samesite="Lax",
        # A POST without cookies is no session's, so it changes nothing, except a log-in.
        always_protect={PREFIX + "/login"},
        # File uploads are streamed to disk by their page, which checks the token itself
        # (`multipart.csrf_ok`): asgi-csrf would read the whole file into memory first.
        skip_if_scope=lambda scope: scope.get("method") == "POST"
        and scope.get("path") in STREAMED_UPLOADS,
        send_csrf_failed=errors.csrf_failed(portal.env),
    )
    return protected, portal


def routes(runtime: Runtime, settings: Settings | None = None) -> list[BaseRoute]:
    """What `create_app` adds: the portal under /portal (`GET /` redirects there)."""
    del settings  # the runtime's settings are the ones in force
    app, _ = build(runtime)
    return [Mount(PREFIX, app=app, name="portal")]
