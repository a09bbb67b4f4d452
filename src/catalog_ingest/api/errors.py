"""Every error becomes its exact HTTP answer here, and only here."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.responses import Response

from catalog_ingest import errors as e

log = logging.getLogger(__name__)
_encode = msgspec.json.encode

INVALID_BODY = "Invalid request body"
RETRY_500 = "Exception encountered while processing the request, please retry again."
FINAL_500 = "Exception encountered while processing the request"


class ApiError(e.CatalogIngestError):
    """An answer decided by the API itself: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid_body() -> ApiError:
    return ApiError(400, {"message": INVALID_BODY})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers=headers, media_type="application/json")


def to_response(exc: BaseException) -> Response:
    """The contract's answer for any exception (never a stack trace, never a 500 for bad input)."""
    if isinstance(exc, ApiError):
        return json_response(exc.status, exc.body, exc.headers)
    if isinstance(exc, e.AuthenticationFailed):
        return json_response(403, {"message": exc.message})
    if isinstance(exc, e.IncompleteStoreList):
        stores = ",".join(exc.store_ids)
        msg = f"allApplicableStores must list every store of the retailer: {stores}"
        return json_response(400, {"errorMsg": msg})
    if isinstance(exc, e.InvalidPageToken):
        return json_response(400, {"message": INVALID_BODY})
    if isinstance(exc, (e.UnknownStores, e.MixedStores, e.IdempotencyMismatch, e.UnknownIngestion)):
        return json_response(400, {"errorMsg": str(exc)})
    if isinstance(exc, e.NotCancellable):
        return json_response(409, {"errorMsg": str(exc)})
    if isinstance(exc, e.NotFound):
        return json_response(404, {"errorMsg": str(exc)})
    if isinstance(exc, (e.TransientError, e.BlobNotFound)):
        log.warning("transient failure: %s", type(exc).__name__)
        return json_response(500, {"errorMsg": RETRY_500})
    log.error("unexpected failure", exc_info=exc)
    return json_response(500, {"errorMsg": FINAL_500})


def unrouted(path: str, status: int) -> Response:
    """No route: API Gateway answers any undefined resource or method of the API with its
    missing-token 403; elsewhere a plain JSON 404/405."""
    if path.startswith("/v1/"):
        return json_response(403, {"message": "Missing Authentication Token"})
    message = "Not Found" if status == 404 else "Method Not Allowed"
    return json_response(status, {"message": message})
