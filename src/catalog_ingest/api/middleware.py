"""Pure ASGI edge middleware: a request id on every answer, the body limit, the last resort."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_ingest.api.errors import renderer_for
from catalog_ingest.errors import RequestTooLarge

REQUEST_ID_KEY = "catalog_ingest.request_id"

#: Paths whose bodies are not held to the API's limit: the portal streams its file uploads to
#: disk under its own limit (`portal_max_upload_bytes`) and answers an oversized one with a
#: page; its other forms are small and parsed with Starlette's own field limits.
UNLIMITED_PREFIXES = ("/portal/",)


class EdgeMiddleware:
    """Outermost layer: adds x-amzn-RequestId, refuses oversized bodies, turns crashes into the
    owning skin's 500 (its renderer, chosen by route)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The telemetry layer outside picks the id first, so log lines of the request carry it.
        request_id = scope.get(REQUEST_ID_KEY) or str(uuid.uuid4()).encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-amzn-RequestId", request_id)]
            await send(message)

        render = renderer_for(scope.get("path", ""))
        limited = not scope.get("path", "").startswith(UNLIMITED_PREFIXES)
        declared = _content_length(scope) if limited else None
        if declared is not None and declared > self.max_body_bytes:
            await render(RequestTooLarge())(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, self._limited(receive) if limited else receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            await render(exc)(scope, receive, send_with_id)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise RequestTooLarge()
            return message

        return limited


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ExactRoutes:
    """Answers POSTs to fixed paths (the JWO operations) straight from a dict, inside the edge
    and telemetry layers but before Starlette's exception layer and router.

    Measured on a signed status poll, in-process: those layers and the walk over the route
    list cost more than the operation itself. The endpoints render every error themselves
    (`api/jwo/routes.py`), so nothing is lost by skipping the exception layer; anything else
    (another method, a root path, a path not listed) goes on to the router as before, which
    still holds the same routes (405s, the route list)."""

    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes if not route.param_convertors}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # the telemetry's label, as the router would set it
        await route.app(scope, receive, send)
