"""Every error of the HTTP API becomes its exact answer here, and only here: one renderer per skin.

* ``render_jwo``: the JWO Catalog API (``/v1/…`` and anything not below): JSON
  ``{"message"}`` / ``{"errorMsg"}`` bodies with the contract's status codes;
* ``render_mmc``: the Merchant-Center resource (``/shopping/…``): ``{"Errors": [...]}`` in
  JSON or XML (``alt``);
* ``render_sns``: the SNS-side routes (``/sns/…``): SNS's own ``ErrorResponse`` XML.

``renderer_for(path)`` chooses by route; the edge middleware uses it for what no route
caught (an oversized body, a crash), so every answer of a skin has that skin's shape.
Nothing here decides anything: the service layer raises ``catalog_ingest.errors``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import msgspec
from starlette.responses import Response

from catalog_ingest import errors as e
from catalog_ingest.api.mmc.render import ALT_JSON, HTTP_STATUS_FOR_CODE, render_errors
from catalog_ingest.engine import merchant_center as mmc

log = logging.getLogger(__name__)
_encode = msgspec.json.encode

INVALID_BODY = "Invalid request body"
RETRY_500 = "Exception encountered while processing the request, please retry again."
FINAL_500 = "Exception encountered while processing the request"
MSG_MMC_INTERNAL = (
    "The request could not be processed; retry later and quote the WebRequestActivityId.")
SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"
XML_MEDIA_TYPE = "text/xml"

Renderer = Callable[[BaseException], Response]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers=headers, media_type="application/json")


def render_jwo(exc: BaseException) -> Response:
    """The JWO contract's answer for any exception (never a trace, never a 500 for bad input)."""
    if isinstance(exc, e.AuthenticationFailed):
        return json_response(403, {"message": exc.message})
    if isinstance(exc, e.Throttled):
        return json_response(429, {"message": "Too Many Requests"},
                             {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, e.RequestTooLarge):
        return json_response(413, {"message": "Request Entity Too Large"})
    if isinstance(exc, e.IncompleteStoreList):
        stores = ",".join(exc.store_ids)
        msg = f"allApplicableStores must list every store of the retailer: {stores}"
        return json_response(400, {"errorMsg": msg})
    if isinstance(exc, (e.InvalidRequest, e.InvalidPageToken)):
        return json_response(400, {"message": INVALID_BODY})
    if isinstance(exc, (e.UnknownStores, e.MixedStores, e.IdempotencyMismatch, e.UnknownIngestion)):
        return json_response(400, {"errorMsg": str(exc)})
    if isinstance(exc, e.NotCancellable):
        return json_response(409, {"errorMsg": str(exc)})
    if isinstance(exc, e.NotFound):
        return json_response(404, {"errorMsg": str(exc)})
    return json_response(500, {"errorMsg": _server_failure(exc)})


def _server_failure(exc: BaseException) -> str:
    """Log an unexpected failure; the JWO 500 text (retry-recommended when retrying may help)."""
    if isinstance(exc, (e.TransientError, e.BlobNotFound)):
        log.warning("transient failure: %s", type(exc).__name__)
        return RETRY_500
    log.error("unexpected failure", exc_info=exc)
    return FINAL_500


def render_mmc(exc: BaseException, alt: str = ALT_JSON) -> Response:
    """The Merchant-Center Errors body (JSON or XML) with a fresh `WebRequestActivityId`."""
    status = 413
    if isinstance(exc, e.MerchantCenterError):
        code, message = exc.code, exc.message
        status = HTTP_STATUS_FOR_CODE[code]
    elif isinstance(exc, e.RequestTooLarge):
        code, message = mmc.REQUEST_TOO_LARGE, "Request Entity Too Large"
    else:
        log.error("Status resource failure", exc_info=exc)
        code, message = mmc.INTERNAL_ERROR, MSG_MMC_INTERNAL
        status = 500
    body, media_type = render_errors([(code, message)], alt)
    return Response(body, status, media_type=media_type,
                    headers={"WebRequestActivityId": str(uuid.uuid4())})


def render_sns(exc: BaseException) -> Response:
    """SNS's ``ErrorResponse`` XML."""
    if isinstance(exc, e.InvalidInput):
        status, kind, code, message = 400, "Sender", "InvalidParameter", str(exc)
    elif isinstance(exc, e.AuthenticationFailed):
        status, kind, code, message = 403, "Sender", "AuthorizationError", exc.message
    elif isinstance(exc, e.NotFound):
        status, kind, code, message = 404, "Sender", "NotFound", str(exc)
    else:
        _server_failure(exc)
        status, kind, code, message = 500, "Receiver", "InternalError", FINAL_500
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{SNS_NS}"><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>\n")
    return Response(body, status, media_type=XML_MEDIA_TYPE)


def renderer_for(path: str) -> Renderer:
    """The renderer of the skin that owns ``path``."""
    if path.startswith(mmc.BASE_PATH + "/"):
        return render_mmc
    if path.startswith("/sns/"):
        return render_sns
    return render_jwo


def unrouted(path: str, status: int) -> Response:
    """No route: API Gateway answers any undefined resource or method of the API with its
    missing-token 403; elsewhere a plain JSON 404/405."""
    if path.startswith("/v1/"):
        return json_response(403, {"message": "Missing Authentication Token"})
    message = "Not Found" if status == 404 else "Method Not Allowed"
    return json_response(status, {"message": message})
