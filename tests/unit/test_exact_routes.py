"""ExactRoutes: POSTs to listed fixed paths skip the router; everything else reaches it."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from catalog_ingest.api.middleware import ExactRoutes


class Operation:
    """A plain ASGI app, as the JWO endpoints are (Starlette's Route mounts it as is)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(f"operation {scope['route'].path}")(scope, receive, send)


operation = Operation()


async def router(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("router")(scope, receive, send)


def call(app: ExactRoutes, method: str, path: str, root_path: str = "") -> str:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path,
             "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return bytes(sent[-1]["body"]).decode()


def app() -> ExactRoutes:
    return ExactRoutes(router, [Route("/v1/catalog/op", operation, methods=["POST"]),
                                Route("/v1/reports/{ingestion_id}", operation)])


def test_a_post_to_a_listed_path_is_answered_with_its_route_set_for_the_telemetry() -> None:
    assert call(app(), "POST", "/v1/catalog/op") == "operation /v1/catalog/op"


def test_other_methods_paths_templates_and_root_paths_go_to_the_router() -> None:
    exact = app()
    assert call(exact, "GET", "/v1/catalog/op") == "router"
    assert call(exact, "POST", "/v1/catalog/other") == "router"
    assert call(exact, "POST", "/v1/reports/{ingestion_id}") == "router"  # templates not listed
    assert call(exact, "POST", "/api/v1/catalog/op", root_path="/api") == "router"
