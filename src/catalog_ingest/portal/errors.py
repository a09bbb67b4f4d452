"""The portal's one error renderer: every failure is a friendly HTML page, never a trace.

Another retailer's upload, item or store answers the same 404 as one that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope, Send

from catalog_ingest.errors import (
    CatalogIngestError,
    Conflict,
    InvalidInput,
    NotFound,
    TransientError,
)
from catalog_ingest.portal import sessions

log = logging.getLogger(__name__)

NOT_FOUND_TITLE = "Not found"
NOT_FOUND_TEXT = ("There is nothing at this address for your retailer. It may have been "
                  "mistyped, or it belongs to someone else.")
STALE_FORM_TEXT = ("This form is out of date: it was opened before your session changed, or it "
                   "did not come from this site. Nothing was changed. Go back, reload the "
                   "page, and submit it again.")


class PageError(Exception):
    """Raise from a page handler to answer with an error page: status, title, message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def not_found() -> PageError:
    return PageError(404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)


def error_page(env: jinja2.Environment, request: Request | None, status: int, title: str,
               message: str, reference: str | None = None) -> HTMLResponse:
    """The error page; works without a session or a logged-in user (e.g. a CSRF failure)."""
    user = getattr(request.state, "user", None) if request is not None else None
    token = sessions.csrf_token(request) if request is not None and user is not None else ""
    body = env.get_template("error.html").render(
        request=request, user=user, status=status, title=title, message=message,
        reference=reference, messages=[], nav=[], csrf_token=token,
    )
    return HTMLResponse(body, status)


def _describe(exc: Exception) -> tuple[int, str, str]:
    if isinstance(exc, PageError):
        return exc.status, exc.title, exc.message
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT
        if exc.status_code == 405:
            return 405, "Not possible here", "This page cannot be used that way. Go back and " \
                "use the page's own buttons."
        return exc.status_code, "Request refused", str(exc.detail)
    if isinstance(exc, NotFound):
        return 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT
    if isinstance(exc, Conflict):
        return 409, "Not possible now", str(exc)
    if isinstance(exc, InvalidInput):
        return 400, "Please check your input", str(exc)
    if isinstance(exc, TransientError):
        return 503, "Try again in a moment", "The service is busy or briefly unavailable. " \
            "Nothing was changed; try again in a moment."
    return 500, "Something went wrong", ""


def handlers(env: jinja2.Environment) -> dict[Any, Callable[[Request, Exception],
                                                            Coroutine[Any, Any, Response]]]:
    """Starlette exception handlers rendering every failure with `error_page`."""

    async def handle(request: Request, exc: Exception) -> Response:
        status, title, message = _describe(exc)
        reference = None
        if status == 500:
            reference = uuid.uuid4().hex[:12]
            log.error("portal error %s on %s %s", reference, request.method, request.url.path,
                      exc_info=exc)
            message = ("The portal could not finish this request. Nothing you did was "
                       "half-applied; try again, and if it keeps happening give your "
                       f"administrator the reference {reference}.")
        return error_page(env, request, status, title, message, reference)

    return {HTTPException: handle, PageError: handle, CatalogIngestError: handle,
            Exception: handle}


def csrf_failed(env: jinja2.Environment) -> Callable[[Scope, Send, Any],
                                                     Coroutine[Any, Any, None]]:
    """asgi-csrf's failure answer: the stale-form page (403)."""

    async def send_failed(scope: Scope, send: Send, _reason: Any) -> None:
        response = error_page(env, Request(scope), 403, "This form has expired", STALE_FORM_TEXT)

        async def no_body() -> Any:  # the response never reads the request
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)

    return send_failed
