"""Mount the JWO operations: capture the request, then auth, limit and handle in one thread hop.

The status poll on the embedded default is the exception: it is answered on the event loop,
because every step is then a local read that never waits (two indexed point lookups on the
SQLite file, whose WAL readers never wait for the writer, an in-memory rate limit, an HMAC),
and the two thread hops cost more than all of them (docs/architecture.md, "Status polls").
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from catalog_ingest.api.auth import Caller, RawRequest, authenticate
from catalog_ingest.api.errors import render_jwo
from catalog_ingest.api.jwo.handlers import OPERATIONS, Handler
from catalog_ingest.api.jwo.read_handlers import READ_OPERATIONS
from catalog_ingest.api.limits import RetailerLimiter
from catalog_ingest.engine import key_usage
from catalog_ingest.runtime import Runtime

#: Operations answered on the event loop when nothing they touch can wait (see above).
INLINE_OPERATIONS = frozenset({"getCatalogUploadStatus"})


def _run(svc: Runtime, limiter: RetailerLimiter, raw: RawRequest, handler: Handler,
         record_use: bool = True) -> tuple[Response, Caller | None]:
    try:
        caller = authenticate(svc, raw, record_use=record_use)
        limiter.check(caller.retailer_id)
        return handler(svc, caller, raw), caller
    except Exception as exc:
        return render_jwo(exc), None


def _threaded(svc: Runtime, limiter: RetailerLimiter, raw: RawRequest,
              handler: Handler) -> Response:
    return _run(svc, limiter, raw, handler)[0]


class _Endpoint:
    """One operation as a plain ASGI app (Starlette's `Route` mounts it as is): the request is
    read from the scope, with no `Request` object, since a status poll is mostly overhead."""

    def __init__(self, svc: Runtime, limiter: RetailerLimiter, handler: Handler,
                 inline: bool) -> None:
        self.svc = svc
        self.limiter = limiter
        self.handler = handler
        self.inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await RawRequest.capture(scope, receive)
        if self.inline:
            response = await self._inline(raw)
        else:
            response = await run_in_threadpool(_threaded, self.svc, self.limiter, raw,
                                               self.handler)
        await response(scope, receive, send)

    async def _inline(self, raw: RawRequest) -> Response:
        response, caller = _run(self.svc, self.limiter, raw, self.handler, record_use=False)
        if caller is not None and key_usage.is_due(caller.last_used_at):
            # A write (once a minute per key): off the event loop, as every write.
            try:
                await run_in_threadpool(key_usage.note_use, self.svc, caller.access_key_id,
                                        caller.last_used_at)
            except Exception as exc:
                return render_jwo(exc)
        return response


def routes(svc: Runtime, limiter: RetailerLimiter) -> list[Route]:
    never_waits = svc.db.is_sqlite and limiter.local
    return [
        Route(f"/v1/catalog/{name}",
              _Endpoint(svc, limiter, handler, never_waits and name in INLINE_OPERATIONS),
              methods=["POST"])
        for name, handler in {**OPERATIONS, **READ_OPERATIONS}.items()
    ]
