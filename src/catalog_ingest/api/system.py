"""Unsigned routes: the report links, /healthz and /openapi.json."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.errors import json_response, render_jwo
from catalog_ingest.api.openapi import openapi_document
from catalog_ingest.engine import health as health_service
from catalog_ingest.engine import reports
from catalog_ingest.runtime import Runtime


def _report(svc: Runtime, ingestion_id: str, params: dict[str, str]) -> Response:
    try:
        body = reports.read_report(svc, ingestion_id, params)
    except Exception as exc:
        return render_jwo(exc)
    return Response(body, 200, media_type="application/json")


def _health(svc: Runtime) -> Response:
    found = health_service.health(svc)
    body: dict[str, object] = {
        "database": "ok" if found.database_ok else "unavailable",
        "blobs": "ok" if found.blobs_ok else "unavailable",
        "workers": found.workers,
        "oldestQueuedSeconds": found.oldest_queued_seconds,
    }
    return json_response(200 if found.ok else 503, body)


def routes(svc: Runtime) -> list[Route]:
    async def report(request: Request) -> Response:
        ingestion_id = request.path_params["ingestion_id"]
        params = dict(request.query_params)
        return await run_in_threadpool(_report, svc, ingestion_id, params)

    async def health(_: Request) -> Response:
        return await run_in_threadpool(_health, svc)

    async def openapi(_: Request) -> Response:
        return json_response(200, openapi_document())

    return [
        Route("/v1/reports/{ingestion_id}.json", report, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
