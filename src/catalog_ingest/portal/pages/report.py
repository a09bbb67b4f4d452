"""An upload's report: per-item results, filtered and paginated; the three downloads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import errors_file
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.engine.report_queries import (
    PayloadGone,
    ReportFilter,
    ReportNotReady,
    ReportQueries,
)
from catalog_ingest.portal.context import NavLink, Portal
from catalog_ingest.portal.errors import PageError
from catalog_ingest.portal.pages.upload import _download, _int

NAV: tuple[NavLink, ...] = ()
STATUSES = (("", "Any status"), ("ACCEPTED", "Accepted"), ("REJECTED", "Rejected"))
SEVERITIES = (("", "Any severity"), ("ERROR", "Errors"), ("WARNING", "Warnings"))


def _filter(request: Request) -> ReportFilter:
    q = request.query_params
    status = q.get("status", "")
    severity = q.get("severity", "")
    return ReportFilter(status=status if status in ("ACCEPTED", "REJECTED") else "",
                        severity=severity if severity in ("ERROR", "WARNING") else "",
                        code=q.get("code", "")[:64], store_id=q.get("store", "")[:255],
                        field=q.get("field", "")[:255])


def _not_ready(exc: ReportNotReady) -> PageError:
    return PageError(404, "No report yet", f"{exc} Its report appears here once it is DONE.")


def routes(portal: Portal) -> list[BaseRoute]:
    queries = ReportQueries(portal.runtime)

    async def report_page(request: Request, user: PortalUser) -> Response:
        ingestion_id = request.path_params["ingestion_id"]
        wanted = _filter(request)
        try:
            page = await portal.call(queries.page, user.retailer_id, ingestion_id, wanted,
                                     _int(request.query_params.get("page"), 1))
        except ReportNotReady as exc:
            raise _not_ready(exc) from None
        return portal.render(request, "report.html", page=page, f=wanted, statuses=STATUSES,
                             severities=SEVERITIES, ingestion_id=ingestion_id)

    async def report_json(request: Request, user: PortalUser) -> Response:
        ingestion_id = request.path_params["ingestion_id"]
        try:
            body = await portal.call(queries.raw_report, user.retailer_id, ingestion_id)
        except ReportNotReady as exc:
            raise _not_ready(exc) from None
        return Response(body, media_type="application/json", headers={
            "content-disposition": f'attachment; filename="report-{ingestion_id}.json"'})

    async def report_zip(request: Request, user: PortalUser) -> Response:
        ingestion_id = request.path_params["ingestion_id"]
        store = request.query_params.get("store", "")
        if not store:
            raise PageError(400, "Choose a store", "The Merchant-Center report is per store: "
                            "choose one of the upload's stores.")
        try:
            body = await portal.call(queries.mmc_zip, user.retailer_id, ingestion_id, store)
        except ReportNotReady as exc:
            raise _not_ready(exc) from None
        return Response(body, media_type="application/x-zip-compressed", headers={
            "content-disposition": f'attachment; filename="rejections-{ingestion_id}.zip"'})

    async def errors_only(request: Request, user: PortalUser) -> Response:
        try:
            download = await portal.call(errors_file.for_upload, portal.runtime, queries,
                                         user.retailer_id, request.path_params["ingestion_id"])
        except ReportNotReady as exc:
            raise _not_ready(exc) from None
        except PayloadGone as exc:
            raise PageError(410, "No longer kept", str(exc)) from None
        return _download(download)

    return [
        portal.route("/uploads/{ingestion_id}/report", report_page, role=Role.VIEWER),
        portal.route("/uploads/{ingestion_id}/report.json", report_json, role=Role.VIEWER),
        portal.route("/uploads/{ingestion_id}/report.zip", report_zip, role=Role.VIEWER),
        portal.route("/uploads/{ingestion_id}/errors", errors_only, role=Role.VIEWER),
    ]
