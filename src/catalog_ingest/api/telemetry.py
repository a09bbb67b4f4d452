"""Request telemetry: a structured log line and metrics per HTTP request; GET /metrics."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_ingest.api.middleware import REQUEST_ID_KEY
from catalog_ingest.engine.telemetry import queue_snapshot
from catalog_ingest.observability import logs
from catalog_ingest.observability.metrics import CONTENT_TYPE, Metrics
from catalog_ingest.runtime import Runtime

log = logging.getLogger("catalog_ingest.requests")
UNROUTED = "unrouted"


class TelemetryMiddleware:
    """Outermost layer: sees every answer (413s and last-resort 500s included).

    The route label is the route's template (``/v1/reports/{ingestion_id}.json``), never the
    raw path, so ids and query strings (link signatures) reach neither metrics nor logs.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        scope[REQUEST_ID_KEY] = request_id.encode()  # the x-amzn-RequestId EdgeMiddleware sends
        token = logs.bind_request(request_id)
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observe)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe_request(scope["method"], route, status, seconds)
            log.info("request", extra={"fields": {
                "method": scope["method"], "route": route, "status": status,
                "duration_ms": round(seconds * 1000, 3)}})
            logs.reset_request(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNROUTED


def metrics_routes(svc: Runtime, metrics: Metrics) -> list[Route]:
    """GET /metrics (unsigned, like /healthz), or nothing when metrics are switched off."""
    if not svc.settings.metrics:
        return []

    def render() -> bytes:
        try:
            snapshot = queue_snapshot(svc)
        except Exception:  # the database is away: still show what this process counted
            log.warning("metrics: the database could not be read for the queue gauges")
            snapshot = None
        return metrics.render(snapshot)

    async def endpoint(_: Request) -> Response:
        body = await run_in_threadpool(render)
        return Response(body, 200, headers={"content-type": CONTENT_TYPE})

    return [Route("/metrics", endpoint, methods=["GET"])]
