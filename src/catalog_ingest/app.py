"""The ASGI application factory: `create_app(settings)` builds everything, nothing at import."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from catalog_ingest.api import notify_routes, system
from catalog_ingest.api.errors import unrouted
from catalog_ingest.api.jwo import routes as jwo_routes
from catalog_ingest.api.limits import RetailerLimiter
from catalog_ingest.api.middleware import EdgeMiddleware, ExactRoutes
from catalog_ingest.api.mmc import routes as mmc_routes
from catalog_ingest.api.telemetry import TelemetryMiddleware, metrics_routes
from catalog_ingest.engine.shutdown import Shutdown
from catalog_ingest.engine.worker import Worker
from catalog_ingest.portal import app as portal
from catalog_ingest.runtime import Runtime, open_runtime
from catalog_ingest.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, workers: int = 0, runtime: Runtime | None = None,
               deliver: bool | None = None) -> Starlette:
    """The service as an ASGI app; `workers` in-process worker threads run during its lifespan,
    and a notification deliverer when `deliver` (default: when there are workers)."""
    svc = runtime or open_runtime(settings)
    limiter = RetailerLimiter(svc.settings.rate_limit_value, svc.settings.redis_url)
    stop = threading.Event()
    shutdown = Shutdown(svc, stop)
    run_deliverer = workers > 0 if deliver is None else deliver

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        threads = [
            threading.Thread(target=Worker(svc, abort=shutdown.abort).run, args=(stop,),
                             name=f"worker-{n}", daemon=True)
            for n in range(workers)
        ]
        if run_deliverer:
            from catalog_ingest.notify.delivery import Deliverer

            threads.append(threading.Thread(target=Deliverer(svc).run, args=(stop,),
                                            name="notify-deliverer", daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            shutdown.begin()
            shutdown.join(threads)
            # uvicorn has answered every in-flight request by now: uploads accepted into the
            # intake inbox while the worker held the writer move into `uploads` before exit.
            try:
                svc.db.flush_inbox()
            except Exception:  # the database may be gone; the inbox keeps them for next start
                log.warning("uploads left in the intake inbox until the next start",
                            exc_info=True)

    jwo = jwo_routes.routes(svc, limiter)
    app = Starlette(routes=[*jwo, *mmc_routes.routes(svc),
                            *system.routes(svc), *notify_routes.routes(svc),
                            *portal.routes(svc), Route("/", _to_portal),
                            *metrics_routes(svc, svc.metrics)], lifespan=lifespan,
                    exception_handlers={404: _unrouted, 405: _unrouted})
    app.add_middleware(ExactRoutes, routes=jwo)  # innermost of ours: see its docstring
    app.add_middleware(EdgeMiddleware, max_body_bytes=svc.settings.max_body_bytes)
    app.add_middleware(TelemetryMiddleware, metrics=svc.metrics)  # outermost: sees every answer
    app.state.runtime = svc
    #: Called by `serve` on SIGTERM, before uvicorn drains requests: workers wind down meanwhile.
    app.state.begin_shutdown = shutdown.begin
    return app


async def _unrouted(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return unrouted(request.url.path, status)


async def _to_portal(_: Request) -> Response:
    return RedirectResponse("/portal/", status_code=307)
