"""The portal session (Starlette's signed cookie): who is logged in, idle expiry, flash messages."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from catalog_ingest import crypto
from catalog_ingest.engine.accounts import PortalUser

#: asgi-csrf's cookie; streamed uploads check their token against it (portal/multipart.py).
CSRF_COOKIE = "portal_csrftoken"
_USER = "uid"
_SEEN = "seen"
_FLASH = "flash"
_EXPIRED = "expired"


def login(request: Request, user: PortalUser) -> None:
    """Start a fresh session for `user` (nothing of an earlier session survives)."""
    request.session.clear()
    request.session[_USER] = user.user_id
    request.session[_SEEN] = time.time()


def logout(request: Request) -> None:
    request.session.clear()


def user_id(request: Request, idle_seconds: float, *, touch: bool = True) -> str | None:
    """The logged-in user's id; None (and the session ended) once it has been idle too long."""
    uid = request.session.get(_USER)
    if not isinstance(uid, str):
        return None
    now = time.time()
    seen = request.session.get(_SEEN)
    if not isinstance(seen, (int, float)) or now - seen > idle_seconds:
        request.session.clear()
        request.session[_EXPIRED] = True
        return None
    if touch:
        request.session[_SEEN] = now
    return uid


def take_expired(request: Request) -> bool:
    """Whether the last session ended by idling (said once on the log-in page)."""
    return bool(request.session.pop(_EXPIRED, False))


def flash(request: Request, text: str, level: str = "info") -> None:
    """A message for the next page this user sees (`info`, `success` or `error`)."""
    messages: list[Any] = list(request.session.get(_FLASH, []))
    messages.append([level, text])
    request.session[_FLASH] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    if "session" not in request.scope:
        return []
    messages = request.session.pop(_FLASH, [])
    return [{"level": str(level), "text": str(text)} for level, text in messages]


def portal_key(secret: bytes, purpose: str) -> str:
    """A key of its own for each use of the server secret (a namespaced MAC of it)."""
    return crypto.mac(secret, f"portal-{purpose}-key")


def csrf_key(secret: bytes) -> str:
    """asgi-csrf's signing secret."""
    return portal_key(secret, "csrf")


def csrf_token(request: Request) -> str:
    """The token every state-changing form and htmx request must carry (asgi-csrf's)."""
    get = request.scope.get("csrftoken")
    return str(get()) if callable(get) else ""
