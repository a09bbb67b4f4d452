"""The two log formats and the request context that follows a request into its threads."""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.observability import logs


def record(message: str, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("catalog_ingest.test", logging.INFO, __file__, 1, message, (), None)
    rec.fields = fields
    return rec


def test_json_lines_carry_the_event_fields_and_the_request_context() -> None:
    token = logs.bind_request("req-1")
    try:
        # As anyio's worker threads do: run in a copy of the context, which shares the dict.
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(logs.note,),
                                  kwargs={"retailer_id": "r-9"})
        worker.start()
        worker.join()
        line = json.loads(logs.JsonFormatter().format(record("upload state", status="DONE")))
    finally:
        logs.reset_request(token)
    assert line["event"] == "upload state" and line["level"] == "info"
    assert line["request_id"] == "req-1" and line["status"] == "DONE"
    assert line["retailer_id"] == "r-9"
    assert line["ts"].endswith("Z")
    assert "retailer_id" not in json.loads(logs.JsonFormatter().format(record("after")))


def test_console_lines_are_key_value_pairs() -> None:
    line = logs.ConsoleFormatter().format(record("request", route="/x", status=201))
    assert line.endswith("INFO catalog_ingest.test request route=/x status=201")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        logs.configure("xml")


@given(st.lists(st.floats(1.7e9, 1.9e9), min_size=1, max_size=20))
def test_timestamps_are_the_records_own_while_a_second_is_reused(times: list[float]) -> None:
    # Each formatter keeps the last second's text; records of other seconds (earlier ones too,
    # from threads) must still get their own.
    json_formatter = logs.JsonFormatter()
    console = logs.ConsoleFormatter()
    plain = logging.Formatter()
    for created in [t for t in times for _ in range(2)]:
        rec = record("tick")
        rec.created = created
        rec.msecs = (created - int(created)) * 1000
        expected = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
                    + f".{int(rec.msecs):03d}Z")
        assert json.loads(json_formatter.format(rec))["ts"] == expected
        assert console.formatTime(rec) == plain.formatTime(rec)
