"""Unsigned routes: the report links, /healthz and /openapi.json."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.errors import json_response, to_response
from catalog_ingest.api.jwo.handlers import report_path
from catalog_ingest.api.openapi import openapi_document
from catalog_ingest.crypto import verify_path
from catalog_ingest.engine.reports import report_key
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import uploads


def _report(svc: Runtime, ingestion_id: str, params: dict[str, str]) -> Response:
    try:
        verify_path(svc.settings.secret_key, report_path(ingestion_id), params, time.time())
        body = svc.blobs.get(report_key(ingestion_id))
    except Exception as exc:
        return to_response(exc)
    return Response(body, 200, media_type="application/json")


def _health(svc: Runtime) -> Response:
    body: dict[str, object] = {"database": "ok", "blobs": "ok"}
    status = 200
    try:
        with svc.db.read() as conn:
            workers, oldest = uploads.queue_stats(conn, time.time(), 30.0)
        body.update(workers=workers, oldestQueuedSeconds=round(oldest or 0.0, 3))
    except Exception:
        body.update(database="unavailable", workers=None, oldestQueuedSeconds=None)
        status = 503
    try:
        svc.blobs.check()
    except Exception:
        body["blobs"] = "unavailable"
        status = 503
    return json_response(status, body)


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
