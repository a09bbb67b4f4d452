"""`catalog-ingest serve`, `worker` and `migrate`: running the service side."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from catalog_ingest.cli.common import DataDir, load_settings, services
from catalog_ingest.cli.demo import provision_demo
from catalog_ingest.cli.worker_child import lower_priority, report_ready, watch_parent
from catalog_ingest.cli.worker_process import WorkerProcess, WorkerStartFailed
from catalog_ingest.engine.shutdown import Shutdown
from catalog_ingest.engine.worker import Worker, drain
from catalog_ingest.observability import logs
from catalog_ingest.observability.metrics import process_exiting

if TYPE_CHECKING:
    from catalog_ingest.settings import Settings

LogFormat = typer.Option("console", "--log-format",
                         help="console (readable lines) or json (one JSON object per line).",
                         envvar="CATALOG_INGEST_LOG_FORMAT")


def _logging(fmt: str = "console") -> None:
    if fmt not in logs.FORMATS:
        raise typer.BadParameter(f"--log-format must be one of {', '.join(logs.FORMATS)}")
    logs.configure(fmt)


def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    data_dir: Path | None = DataDir,
    workers: int = typer.Option(1, "--workers", min=0,
                                help="Worker threads (of the worker child process)."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Run no worker."),
    worker_threads: bool = typer.Option(
        False, "--worker-threads",
        help="Run the workers as threads of this process instead of a child process."),
    demo: bool = typer.Option(False, "--demo", help="Provision and print a demo retailer."),
    log_format: str = LogFormat,
) -> None:
    """Run the HTTP service (and, by default, one worker in a child process)."""
    _logging(log_format)
    settings = load_settings(data_dir, listen_url=_listen_url(host, port))
    _switch_interval(settings.switch_interval)
    count = 0 if no_worker else workers
    if count == 0 or worker_threads:
        _serve(settings, host, port, demo, workers=count, child=None)
        return
    assert settings.listen_url is not None
    child = WorkerProcess(data_dir=settings.data_dir, concurrency=count,
                          listen_url=settings.listen_url, log_format=log_format)
    child.share_metrics()
    _serve(settings, host, port, demo, workers=0, child=child)


def _serve(settings: Settings, host: str, port: int, demo: bool, *, workers: int,
           child: WorkerProcess | None) -> None:
    """uvicorn over the app; `workers` threads in it, or `child` started beside it."""
    after_shutdown: Callable[[], None] = process_exiting
    if child is not None:
        after_shutdown = _also(process_exiting, lambda: child.wait(settings.shutdown_grace))
    try:
        server = _server(settings, host, port, demo, workers=workers, child=child,
                         after_shutdown=after_shutdown)
        _freeze_startup_objects()
        server.run()
    except WorkerStartFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:  # a failed start (the port taken) or an exit without a signal
        after_shutdown()


def _server(settings: Settings, host: str, port: int, demo: bool, *, workers: int,
            child: WorkerProcess | None, after_shutdown: Callable[[], None]) -> Any:
    import uvicorn

    from catalog_ingest.app import create_app

    app = create_app(settings, workers=workers, deliver=True if child else None)
    if demo:
        provision_demo(app.state.runtime, f"http://{host}:{port}")
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False,
                            log_config=None,
                            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace)))
    begin_shutdown: Callable[[], None] = app.state.begin_shutdown
    if child is not None:
        app.state.runtime.wake = child.start()
        begin_shutdown = _also(begin_shutdown, child.terminate)
    return _graceful_server(config, begin_shutdown, after_shutdown)


def _also(first: Callable[[], None], then: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        first()
        then()

    return both


def _switch_interval(seconds: float) -> None:
    """How long a CPU-bound thread (a worker planning an upload) keeps the GIL from one that
    waits for it (the event loop with a request's next body chunk): each wake-up of a waiting
    thread can cost up to this long."""
    if seconds > 0:
        sys.setswitchinterval(seconds)


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app, the runtime: ~100k objects)
    out of the cyclic GC's reach: they live as long as the process, and walking them made
    each full collection take ~45 ms, paid by whichever request triggered it. Measured on
    the upload path in-process: a full collection 49 ms → 2.6 ms."""
    gc.collect()
    gc.freeze()


def _graceful_server_class() -> type:
    import asyncio

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, telling the workers to wind down as soon as SIGTERM arrives
        (uvicorn itself stops accepting and finishes the in-flight requests), and running
        `after_shutdown` (waiting for the worker child) before uvicorn re-raises the signal."""

        def __init__(self, config: uvicorn.Config, begin_shutdown: Callable[[], None],
                     after_shutdown: Callable[[], None]) -> None:
            super().__init__(config)
            self.begin_shutdown = begin_shutdown
            self.after_shutdown = after_shutdown

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.begin_shutdown()
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: list[Any] | None = None) -> None:
            try:
                await super().shutdown(sockets)
            finally:
                await asyncio.to_thread(self.after_shutdown)

    return GracefulServer


def _graceful_server(config: Any, begin_shutdown: Callable[[], None],
                     after_shutdown: Callable[[], None]) -> Any:
    """Built on first use: uvicorn is imported only by `serve`."""
    return _graceful_server_class()(config, begin_shutdown, after_shutdown)


def _listen_url(host: str, port: int) -> str:
    """The base of notification URLs when CATALOG_INGEST_PUBLIC_URL is unset."""
    if host in ("", "0.0.0.0", "::"):
        logging.getLogger(__name__).warning(
            "listening on all interfaces: set CATALOG_INGEST_PUBLIC_URL so notifications carry "
            "URLs that subscribers can reach (using 127.0.0.1 meanwhile)")
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def worker(
    concurrency: int = typer.Option(1, "--concurrency", min=1),
    data_dir: Path | None = DataDir,
    once: bool = typer.Option(False, "--once", help="Process what is queued, then exit."),
    log_format: str = LogFormat,
    wake_fd: int | None = typer.Option(None, "--wake-fd", hidden=True,
                                       help="serve's wake-up pipe (serve's worker child)."),
    listen_url: str | None = typer.Option(None, "--listen-url", hidden=True,
                                          help="serve's base URL (serve's worker child)."),
    ready_fd: int | None = typer.Option(None, "--ready-fd", hidden=True,
                                        help="told once the workers run (serve's child)."),
) -> None:
    """Run workers only (scaled-out deployments); stops cleanly on SIGTERM or Ctrl-C.

    A worker also delivers completion notifications (one deliverer thread per process).
    """
    from catalog_ingest.notify.delivery import Deliverer, deliver_due

    _logging(log_format)
    with services(data_dir, listen_url=listen_url) as svc:
        if once:
            drain(svc)
            deliver_due(svc)
            return
        if wake_fd is not None:  # serve's own worker
            watch_parent(wake_fd, svc.wake)
            lower_priority(svc.settings.worker_nice)
        stop = threading.Event()
        shutdown = Shutdown(svc, stop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: shutdown.begin())
        threads = [threading.Thread(target=Worker(svc, abort=shutdown.abort).run, args=(stop,),
                                    name=f"worker-{n}", daemon=True)
                   for n in range(concurrency)]
        threads.append(threading.Thread(target=Deliverer(svc).run, args=(stop,),
                                        name="notify-deliverer", daemon=True))
        for thread in threads:
            thread.start()
        if ready_fd is not None:
            report_ready(ready_fd)
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(0.5)
        shutdown.join(threads)
        process_exiting()


def migrate(data_dir: Path | None = DataDir) -> None:
    """Create or upgrade the database schema."""
    with services(data_dir):
        typer.echo("database schema is up to date")
