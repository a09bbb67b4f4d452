"""The uploads page (every upload of the retailer, filterable) and the page of one upload:
live status (htmx polling), times, counts, Cancel while INQUEUE, "stuck" with its reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.engine import portal_queries as queries
from catalog_ingest.engine.accounts import PortalUser, Role
from catalog_ingest.errors import NotCancellable, UnknownIngestion
from catalog_ingest.portal.context import NavLink, Portal
from catalog_ingest.portal.errors import not_found
from catalog_ingest.storage.portal import UploadFilter

NAV = (NavLink("Uploads", "/uploads", order=20),)
STATUSES = [s.value for s in ProcessingStatus]
#: htmx stops polling when a fragment answers 286.
STOP_POLLING = 286


def _day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = f"“{raw}” is not a date: use the form YYYY-MM-DD, e.g. 2026-12-01."
        return None


def parse_filter(request: Request) -> tuple[UploadFilter, dict[str, str], dict[str, str]]:
    """(filter, the values as typed, an error per field); a bad value filters nothing."""
    q = request.query_params
    typed = {k: q.get(k, "").strip()
             for k in ("status", "source", "date_from", "date_to", "batch")}
    errors: dict[str, str] = {}
    status = typed["status"] if typed["status"] in STATUSES else None
    if typed["status"] and status is None:
        errors["status"] = f"“{typed['status']}” is not a status."
    source = typed["source"] if typed["source"] in queries.SOURCES else None
    if typed["source"] and source is None:
        errors["source"] = f"“{typed['source']}” is not a source."
    start = _day(typed["date_from"], "date_from", errors)
    end = _day(typed["date_to"], "date_to", errors)
    flt = UploadFilter(
        status=status, source=source,
        submitted_from=_epoch(start) if start else None,
        submitted_before=_epoch(end + timedelta(days=1)) if end else None,
        batch_id=typed["batch"] or None,
    )
    return flt, typed, errors


def _epoch(day: date) -> float:
    """Dates are whole days in UTC, like every time the portal shows."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def live_state(view: queries.UploadView) -> str:
    """What the live panel shows that can change by itself: the status, and being stuck."""
    return view.upload.status + ("-stuck" if view.stuck else "")


class UploadsPages:
    """The handlers of this area; `routes` binds them to their paths."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def list_page(self, request: Request, user: PortalUser) -> Response:
        flt, typed, errors = parse_filter(request)
        page = await self.portal.call(queries.list_uploads, self.portal.runtime,
                                      user.retailer_id, flt, _before(request))
        return self.portal.render(request, "uploads.html", page=page, filters=typed,
                                  errors=errors, statuses=STATUSES, sources=queries.SOURCES,
                                  filtered=any(typed.values()))

    async def _view(self, user: PortalUser, ingestion_id: str) -> queries.UploadView:
        try:
            return await self.portal.call(queries.upload_view, self.portal.runtime,
                                          user.retailer_id, ingestion_id)
        except UnknownIngestion:
            raise not_found() from None

    async def detail(self, request: Request, user: PortalUser) -> Response:
        view = await self._view(user, request.path_params["ingestion_id"])
        return self.portal.render(request, "upload_detail.html", view=view, u=view.upload,
                                  announce=False, state=live_state(view))

    async def status(self, request: Request, user: PortalUser) -> Response:
        """The live panel; empty (204) while nothing it shows has changed."""
        view = await self._view(user, request.path_params["ingestion_id"])
        if request.query_params.get("state") == live_state(view):
            return Response(status_code=204)  # htmx swaps nothing and keeps polling
        return self.portal.render(request, "_upload_status.html",
                                  status=STOP_POLLING if view.terminal else 200, view=view,
                                  u=view.upload, announce=True, state=live_state(view))

    async def cancel(self, request: Request, user: PortalUser) -> Response:
        ingestion_id = request.path_params["ingestion_id"]
        back = f"/uploads/{ingestion_id}"
        try:
            await self.portal.call(queries.cancel_upload, self.portal.runtime,
                                   user.retailer_id, ingestion_id)
        except UnknownIngestion:
            raise not_found() from None
        except NotCancellable as exc:
            return self.portal.redirect(request, back, f"Not cancelled: the upload is "
                                        f"{exc.status} now, and only a queued upload can be "
                                        "cancelled.", "error")
        return self.portal.redirect(request, back,
                                    "Upload cancelled: nothing of it will be applied.",
                                    "success")


def routes(portal: Portal) -> list[BaseRoute]:
    pages = UploadsPages(portal)
    return [
        portal.route("/uploads", pages.list_page, name="uploads"),
        portal.route("/uploads/{ingestion_id}", pages.detail, name="upload"),
        portal.route("/uploads/{ingestion_id}/status", pages.status, background=True,
                     name="upload_status"),
        portal.route("/uploads/{ingestion_id}/cancel", pages.cancel, methods=["POST"],
                     role=Role.EDITOR, name="upload_cancel"),
    ]
