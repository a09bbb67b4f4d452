"""Structured logs with the stdlib: one JSON object (or one readable line) per event.

Events carry their fields in ``extra={"fields": {...}}``; both formats print them. A request
context (request id, retailer) is bound per HTTP request and added to every line logged
while it is served, including lines logged from the worker threads the request hops to.
Nothing here logs request bodies, headers or query strings: that is how secrets (signatures,
tokens, passwords) stay out of the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

FORMATS = ("console", "json")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "catalog_ingest_log_context", default=None)


def bind_request(request_id: str) -> contextvars.Token[dict[str, Any] | None]:
    """Start a request's context; a mutable dict, so threads it hops to can add to it."""
    return _context.set({"request_id": request_id})


def reset_request(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


def note(**fields: Any) -> None:
    """Add fields (e.g. the authenticated retailer) to the current request's context."""
    ctx = _context.get()
    if ctx is not None:
        ctx.update(fields)


def current() -> Mapping[str, Any]:
    return _context.get() or {}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(current())
    extra = getattr(record, "fields", None)
    if isinstance(extra, Mapping):
        fields.update(extra)
    return fields


class _Seconds:
    """`strftime` of a record's whole second, kept while the second lasts: a request line is
    logged per request, and formatting the same second again was a tenth of its cost."""

    def __init__(self, pattern: str, convert: Callable[[float], time.struct_time]) -> None:
        self.pattern = pattern
        self.convert = convert
        self.second = -1
        self.text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.text = time.strftime(self.pattern, self.convert(second))
            self.second = second
        return self.text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, the event's fields."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _Seconds("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": f"{self._seconds(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(event_fields(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`time level logger event key=value ...` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._seconds = _Seconds(self.default_time_format, time.localtime)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds(record.created)},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = event_fields(record)
        if not fields:
            return line
        head, sep, rest = line.partition("\n")  # keep a traceback after the fields
        pairs = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{head} {pairs}{sep}{rest}"


def configure(fmt: str = "console", level: int = logging.INFO) -> None:
    """Route every logger (ours, uvicorn's) to stderr in the chosen format."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Neither format prints the caller's file and line, thread or process: the logging HOWTO's
    # "Optimization" switches, so a record (one per request) does not look them up.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


def uvicorn_log_config() -> dict[str, Any]:
    """Tell uvicorn to leave logging as `configure` set it up."""
    return {"version": 1, "disable_existing_loggers": False}
