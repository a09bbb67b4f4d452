"""Upload a file: check it against the service's rules, then submit it as one batch."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.engine import batch_submit, errors_file, file_check
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.engine.file_source import FileRefused, SourceSpec, parse_mapping_text
from catalog_ingest.engine.staging import Owner, Staged, StagedFileGone, StagingArea
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


class UploadPages:
    """The handlers of the upload pages (one instance per portal)."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.area = StagingArea(portal.settings.data_dir)
        self.limit = portal.settings.portal_max_upload_bytes
        self.csrf_secret = csrf_key(portal.settings.secret_key)

    def form(self, request: Request, status: int = 200, error: str | None = None,
             values: dict[str, str] | None = None) -> Response:
        return self.portal.render(request, "upload.html", status=status, error=error,
                                  values=values or {}, limit=_size(self.limit))

    async def upload_form(self, request: Request, user: PortalUser) -> Response:
        return self.form(request)

    async def upload_submit(self, request: Request, user: PortalUser) -> Response:
        """Receive the file to a fresh staging folder and check it; the check page, or the
        form again with what is wrong (nothing is kept of a refused file)."""
        staged = await self.portal.call(self.area.create, _owner(user))
        values: dict[str, str] = {}
        try:
            received = await receive_file(request, staged.source, self.limit)
            values = received.fields
            if not csrf_ok(request, values.get("csrftoken", ""), CSRF_COOKIE, self.csrf_secret):
                raise PageError(403, "This form has expired", STALE_FORM_TEXT)
            if not received.file_name:
                raise FileRefused("Choose a file to check (CSV, JSON, JSON Lines or Excel).")
            spec = SourceSpec(received.file_name, values.get("format") or None,
                              values.get("sheet", "").strip() or None,
                              parse_mapping_text(values.get("mapping", "")))
            await self.portal.call(file_check.check_file, self.portal.runtime,
                                   user.retailer_id, staged, spec, values.get("mapping", ""))
        except UploadTooLarge as exc:
            self.area.discard(staged)
            return self.form(request, 413, f"The file is larger than the limit of "
                             f"{_size(exc.limit)}: it was not read. Split it into smaller "
                             "files, or leave out columns the catalog does not use.", values)
        except (FileRefused, BadUpload) as exc:
            self.area.discard(staged)
            return self.form(request, 400, str(exc), values)
        except BaseException:
            self.area.discard(staged)
            raise
        return self.portal.redirect(request, f"/upload/check/{staged.staging_id}")

    def open_staged(self, user: PortalUser, staging_id: str) -> Staged:
        try:
            return self.area.open(staging_id, _owner(user))
        except StagedFileGone as exc:
            raise PageError(404, "Checked file not found", str(exc)) from None

    async def check_page(self, request: Request, user: PortalUser) -> Response:
        staged = self.open_staged(user, request.path_params["staging_id"])
        meta = await self.portal.call(staged.read_meta)
        if meta.get("state") not in ("CHECKED", "SUBMITTED"):
            raise PageError(404, "Checked file not found", "This file was not checked: upload "
                            "it again.")
        severity = request.query_params.get("severity", "ERROR")
        severity = severity if severity in ("ERROR", "WARNING", "") else "ERROR"
        offset = _int(request.query_params.get("offset"), 0)
        problems, more = await self.portal.call(file_check.read_problems, staged, severity,
                                                offset, PROBLEMS_PAGE)
        return self.portal.render(request, "upload_check.html", meta=meta, s=meta["summary"],
                                  staging_id=staged.staging_id, problems=problems, more=more,
                                  offset=offset, page_size=PROBLEMS_PAGE, severity=severity,
                                  severities=SEVERITIES)

    async def check_download(self, request: Request, user: PortalUser) -> Response:
        staged = self.open_staged(user, request.path_params["staging_id"])
        return _download(await self.portal.call(errors_file.for_check, staged))

    async def submit(self, request: Request, user: PortalUser) -> Response:
        staged = self.open_staged(user, request.path_params["staging_id"])
        try:
            done = await self.portal.call(batch_submit.submit, self.portal.runtime,
                                          _owner(user), staged)
        except batch_submit.NothingToSubmit as exc:
            return self.portal.redirect(request, f"/upload/check/{staged.staging_id}",
                                        str(exc), "error")
        count = len(done.ingestion_ids)
        message = (f"Submitted as {count} upload{'s' if count != 1 else ''}; they are "
                   "processed in order.")
        target = f"/uploads/{done.ingestion_ids[0]}" if count == 1 else \
            f"/batches/{done.batch_id}"
        return self.portal.redirect(request, target, message, "success")

    async def batch_page(self, request: Request, user: PortalUser) -> Response:
        view = await self.portal.call(batch_submit.batch_status, self.portal.runtime,
                                      user.retailer_id, request.path_params["batch_id"])
        template = "batch_rows.html" if request.headers.get("hx-request") else "batch.html"
        return self.portal.render(request, template, view=view)

    async def template(self, request: Request, user: PortalUser) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("csv", "xlsx"):
            raise PageError(404, "No such template", "Templates are CSV or Excel (xlsx).")
        return _download(await self.portal.call(errors_file.template, kind))


def routes(portal: Portal) -> list[BaseRoute]:
    p = UploadPages(portal)
    editor, viewer = Role.EDITOR, Role.VIEWER
    return [
        portal.route("/upload", p.upload_form, role=editor, name="upload"),
        portal.route("/upload", p.upload_submit, methods=["POST"], role=editor),
        portal.route("/upload/template.{kind}", p.template, role=viewer),
        portal.route("/upload/check/{staging_id}", p.check_page, role=editor),
        portal.route("/upload/check/{staging_id}/problems", p.check_download, role=editor),
        portal.route("/upload/check/{staging_id}/submit", p.submit, methods=["POST"],
                     role=editor),
        portal.route("/batches/{batch_id}", p.batch_page, role=viewer),
        portal.route("/batches/{batch_id}/rows", p.batch_page, role=viewer, background=True),
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
