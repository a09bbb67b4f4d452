"""Mount the JWO operations: capture the request, then auth, limit and handle in one thread hop."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.auth import RawRequest, authenticate
from catalog_ingest.api.errors import render_jwo
from catalog_ingest.api.jwo.handlers import OPERATIONS, Handler
from catalog_ingest.api.jwo.read_handlers import READ_OPERATIONS
from catalog_ingest.api.limits import RetailerLimiter
from catalog_ingest.runtime import Runtime


def _run(svc: Runtime, limiter: RetailerLimiter, raw: RawRequest, handler: Handler) -> Response:
    try:
        caller = authenticate(svc, raw)
        limiter.check(caller.retailer_id)
        return handler(svc, caller, raw)
    except Exception as exc:
        return render_jwo(exc)


def routes(svc: Runtime, limiter: RetailerLimiter) -> list[Route]:
    def endpoint_for(handler: Handler) -> object:
        async def endpoint(request: Request) -> Response:
            raw = await RawRequest.capture(request)
            return await run_in_threadpool(_run, svc, limiter, raw, handler)

        return endpoint

    return [
        Route(f"/v1/catalog/{name}", endpoint_for(handler), methods=["POST"])  # type: ignore[arg-type]
        for name, handler in {**OPERATIONS, **READ_OPERATIONS}.items()
    ]
