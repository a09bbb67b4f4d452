"""Upload a file: check it against the service's rules, then submit it as one batch."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import batch_submit, errors_file, file_check
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.engine.file_source import FileRefused, SourceSpec, parse_mapping_text
from catalog_ingest.engine.staging import Owner, StagedFileGone, StagingArea
from catalog_ingest.portal.context import NavLink, Portal
from catalog_ingest.portal.errors import STALE_FORM_TEXT, PageError
from catalog_ingest.portal.multipart import (
    BadUpload,
    UploadTooLarge,
    csrf_ok,
    receive_file,
)
from catalog_ingest.portal.sessions import CSRF_COOKIE, csrf_key

NAV: tuple[NavLink, ...] = (NavLink("Upload a file", "/upload", Role.EDITOR, order=20),)
PROBLEMS_PAGE: Final = 200
SEVERITIES: Final = (("ERROR", "Errors"), ("WARNING", "Warnings"), ("", "Errors and warnings"))


def _owner(user: PortalUser) -> Owner:
    return Owner(user.retailer_id, user.user_id)


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):.0f} MiB"


def routes(portal: Portal) -> list[BaseRoute]:
    area = StagingArea(portal.settings.data_dir)
    limit = portal.settings.portal_max_upload_bytes
    csrf_secret = csrf_key(portal.settings.secret_key)

    def form(request: Request, status: int = 200, error: str | None = None,
             values: dict[str, str] | None = None) -> Response:
        return portal.render(request, "upload.html", status=status, error=error,
                             values=values or {}, limit=_size(limit))

    async def upload_form(request: Request, user: PortalUser) -> Response:
        return form(request)

    async def upload_submit(request: Request, user: PortalUser) -> Response:
        staged = await portal.call(area.create, _owner(user))
        values: dict[str, str] = {}
        try:
            received = await receive_file(request, staged.source, limit)
            values = received.fields
            if not csrf_ok(request, values.get("csrftoken", ""), CSRF_COOKIE, csrf_secret):
                area.discard(staged)
                raise PageError(403, "This form has expired", STALE_FORM_TEXT)
            if not received.file_name:
                raise FileRefused("Choose a file to check (CSV, JSON, JSON Lines or Excel).")
            spec = SourceSpec(received.file_name, values.get("format") or None,
                              values.get("sheet", "").strip() or None,
                              parse_mapping_text(values.get("mapping", "")))
            await portal.call(file_check.check_file, portal.runtime, user.retailer_id, staged,
                              spec, values.get("mapping", ""))
        except UploadTooLarge as exc:
            area.discard(staged)
            return form(request, 413, f"The file is larger than the limit of {_size(exc.limit)}"
                        ": it was not read. Split it into smaller files, or leave out columns "
                        "the catalog does not use.", values)
        except (FileRefused, BadUpload) as exc:
            area.discard(staged)
            return form(request, 400, str(exc), values)
        return portal.redirect(request, f"/upload/check/{staged.staging_id}")

    def open_staged(user: PortalUser, staging_id: str) -> Any:
        try:
            return area.open(staging_id, _owner(user))
        except StagedFileGone as exc:
            raise PageError(404, "Checked file not found", str(exc)) from None

    async def check_page(request: Request, user: PortalUser) -> Response:
        staged = open_staged(user, request.path_params["staging_id"])
        meta = await portal.call(staged.read_meta)
        if meta.get("state") not in ("CHECKED", "SUBMITTED"):
            raise PageError(404, "Checked file not found", "This file was not checked: upload "
                            "it again.")
        severity = request.query_params.get("severity", "ERROR")
        severity = severity if severity in ("ERROR", "WARNING", "") else "ERROR"
        offset = _int(request.query_params.get("offset"), 0)
        problems, more = await portal.call(file_check.read_problems, staged, severity, offset,
                                           PROBLEMS_PAGE)
        return portal.render(request, "upload_check.html", meta=meta, s=meta["summary"],
                             staging_id=staged.staging_id, problems=problems, more=more,
                             offset=offset, page_size=PROBLEMS_PAGE, severity=severity,
                             severities=SEVERITIES)

    async def check_download(request: Request, user: PortalUser) -> Response:
        staged = open_staged(user, request.path_params["staging_id"])
        download = await portal.call(errors_file.for_check, staged)
        return _download(download)

    async def submit(request: Request, user: PortalUser) -> Response:
        staged = open_staged(user, request.path_params["staging_id"])
        try:
            done = await portal.call(batch_submit.submit, portal.runtime, _owner(user), staged)
        except batch_submit.NothingToSubmit as exc:
            return portal.redirect(request, f"/upload/check/{staged.staging_id}", str(exc),
                                   "error")
        count = len(done.ingestion_ids)
        message = (f"Submitted as {count} upload{'s' if count != 1 else ''}; they are "
                   "processed in order.")
        if count == 1:
            return portal.redirect(request, f"/uploads/{done.ingestion_ids[0]}", message,
                                   "success")
        return portal.redirect(request, f"/batches/{done.batch_id}", message, "success")

    async def batch_page(request: Request, user: PortalUser) -> Response:
        view = await portal.call(batch_submit.batch_status, portal.runtime, user.retailer_id,
                                 request.path_params["batch_id"])
        template = "batch_rows.html" if request.headers.get("hx-request") else "batch.html"
        return portal.render(request, template, view=view)

    async def template(request: Request, user: PortalUser) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("csv", "xlsx"):
            raise PageError(404, "No such template", "Templates are CSV or Excel (xlsx).")
        return _download(await portal.call(errors_file.template, kind))

    return [
        portal.route("/upload", upload_form, role=Role.EDITOR, name="upload"),
        portal.route("/upload", upload_submit, methods=["POST"], role=Role.EDITOR),
        portal.route("/upload/template.{kind}", template, role=Role.VIEWER),
        portal.route("/upload/check/{staging_id}", check_page, role=Role.EDITOR),
        portal.route("/upload/check/{staging_id}/problems", check_download, role=Role.EDITOR),
        portal.route("/upload/check/{staging_id}/submit", submit, methods=["POST"],
                     role=Role.EDITOR),
        portal.route("/batches/{batch_id}", batch_page, role=Role.VIEWER),
        portal.route("/batches/{batch_id}/rows", batch_page, role=Role.VIEWER, background=True),
    ]


def _int(raw: str | None, default: int) -> int:
    try:
        return max(0, int(raw or default))
    except ValueError:
        return default


def _download(download: errors_file.Download) -> Response:
    safe = download.filename.encode("ascii", "replace").decode().replace('"', "")
    return Response(download.content, media_type=download.media_type,
                    headers={"content-disposition": f'attachment; filename="{safe}"',
                             "x-content-type-options": "nosniff"})
