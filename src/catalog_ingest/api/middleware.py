"""Pure ASGI middleware: a request id on every answer, the body-size limit, the last-resort 500."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_ingest.api.errors import json_response, to_response

#: Paths whose bodies are not held to the API's limit: the portal streams its file uploads to
#: disk under its own (larger) limit and answers an oversized one with a page, not JSON.
UNLIMITED_PREFIXES = ("/portal/",)


class BodyTooLarge(Exception):
    pass


class EdgeMiddleware:
    """Outermost layer: adds x-amzn-RequestId, refuses oversized bodies, turns crashes into 500s."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4()).encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-amzn-RequestId", request_id)]
            await send(message)

        if scope["path"].startswith(UNLIMITED_PREFIXES):  # the portal sets its own limits
            await self._guarded(scope, receive, send_with_id, lambda: started)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _too_large(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, self._limited(receive), send_with_id)
        except Exception as exc:
            if started:
                raise
            response = (json_response(413, {"message": "Request Entity Too Large"})
                        if isinstance(exc, BodyTooLarge) else to_response(exc))
            await response(scope, receive, send_with_id)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, started: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if started():
                raise
            await to_response(exc)(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge()
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


async def _too_large(scope: Scope, receive: Receive, send: Any) -> None:
    await json_response(413, {"message": "Request Entity Too Large"})(scope, receive, send)
