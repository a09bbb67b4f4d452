"""The JWO write operations: parse the request, call the intake service, render the answer."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from catalog_ingest.api.auth import Caller, RawRequest
from catalog_ingest.api.errors import json_response
from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.engine import intake
from catalog_ingest.engine.requests import IngestionRequest, decode
from catalog_ingest.runtime import Runtime

Handler = Callable[[Runtime, Caller, RawRequest], Response]


def upload(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    ingestion_id = intake.submit_upload(
        svc, caller.retailer_id, raw.body, idempotency_key=raw.headers.get("idempotency-key"),
        body_sha256=raw.body_sha256, source=intake.upload_source(raw.headers.get("user-agent")))
    return json_response(201, {"ingestionId": ingestion_id})


def archive(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    ingestion_id = intake.submit_archive(
        svc, caller.retailer_id, raw.body, idempotency_key=raw.headers.get("idempotency-key"),
        body_sha256=raw.body_sha256, source=intake.upload_source(raw.headers.get("user-agent")))
    return json_response(201, {"ingestionId": ingestion_id})


def status(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, IngestionRequest)
    found = intake.upload_status(svc, caller.retailer_id, request.ingestionId, raw.base_url)
    return json_response(200, {"processingStatus": found.processing_status,
                               "reportDownloadLink": found.report_download_link})


def cancel(svc: Runtime, caller: Caller, raw: RawRequest) -> Response:
    request = decode(raw.body, IngestionRequest)
    intake.cancel(svc, caller.retailer_id, request.ingestionId)
    return json_response(200, {"processingStatus": ProcessingStatus.CANCELLED.value})


OPERATIONS: dict[str, Handler] = {
    "upload": upload,
    "getCatalogUploadStatus": status,
    "archive": archive,
    "cancelCatalogUpload": cancel,
}
