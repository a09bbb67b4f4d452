"""Mount the Merchant-Center Status resource and its rejection-report link.

Every answer, errors and last-resort 500s included, carries a fresh `WebRequestActivityId`.
Checks run in this order: `alt` (it decides the error format, so a bad one answers in JSON),
the token headers (401), the customer headers (400), then the merchant and catalog (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.errors import render_mmc
from catalog_ingest.api.mmc.render import ALT_JSON, parse_alt, render_status
from catalog_ingest.engine.merchant_center import (
    BASE_PATH,
    INVALID_QUERY_PARAMETER,
    StatusService,
    check_customer_headers,
)
from catalog_ingest.engine.rejection_report import ZIP_MEDIA_TYPE
from catalog_ingest.errors import MerchantCenterError
from catalog_ingest.observability import logs
from catalog_ingest.runtime import Runtime

STATUS_ROUTE = BASE_PATH + "/{bmcMerchantId}/catalogs/{catalogId}/status"
REPORT_ROUTE = BASE_PATH + "/{bmcMerchantId}/catalogs/{catalogId}/rejection-report"
ACTIVITY_HEADER = "WebRequestActivityId"
MSG_ALT = "The alt query parameter must be json or xml."


def _answer(make: Callable[[], Response], alt: str = ALT_JSON) -> Response:
    try:
        response = make()
    except Exception as exc:
        return render_mmc(exc, alt)
    response.headers[ACTIVITY_HEADER] = str(uuid.uuid4())
    return response


def _parse_alt(request: Request) -> str:
    values = request.query_params.getlist("alt")
    if len(values) > 1:
        raise ValueError("alt given more than once")
    return parse_alt(values[0] if values else None)


def _status(service: StatusService, request: Request, alt: str) -> Response:
    headers = request.headers
    retailer_id = service.authenticate(headers.get("authenticationtoken"),
                                       headers.get("developertoken"))
    logs.note(retailer_id=retailer_id)
    check_customer_headers(headers.get("customerid"), headers.get("customeraccountid"))
    params = request.path_params
    found = service.status(retailer_id, params["bmcMerchantId"], params["catalogId"])
    url = None
    if found.rejected > 0:
        url = service.report_url(str(request.base_url), found.store)
    body, media_type = render_status(found.store.catalog_id, found.published, found.rejected,
                                     url, alt)
    return Response(body, 200, media_type=media_type)


def _report(service: StatusService, request: Request) -> Response:
    query = request.query_params
    if any(len(query.getlist(name)) > 1 for name in ("expires", "signature")):
        params: dict[str, str] = {}  # a repeated signature parameter is an altered link
    else:
        params = dict(query)
    body = service.report(request.url.path, request.path_params["bmcMerchantId"],
                          request.path_params["catalogId"], params)
    # Sent as a ZIP whatever Accept says: the seed asks clients for exactly this type.
    return Response(body, 200, media_type=ZIP_MEDIA_TYPE, headers={
        "Content-Disposition": 'attachment; filename="MerchantCatalogReport.zip"'})


def routes(svc: Runtime) -> list[Route]:
    service = StatusService(svc)

    async def status(request: Request) -> Response:
        try:
            alt = _parse_alt(request)
        except ValueError:
            return render_mmc(MerchantCenterError(INVALID_QUERY_PARAMETER, MSG_ALT))
        return await run_in_threadpool(_answer, lambda: _status(service, request, alt), alt)

    async def report(request: Request) -> Response:
        return await run_in_threadpool(_answer, lambda: _report(service, request))

    return [
        Route(STATUS_ROUTE, status, methods=["GET"]),
        Route(REPORT_ROUTE, report, methods=["GET"]),
    ]
