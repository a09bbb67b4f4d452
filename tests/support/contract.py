"""Assertions every wire-contract test makes about a JWO answer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def expect(resp: httpx.Response, status: int, body: Any = None) -> Any:
    """The exact status (and body), JSON content type and a UUID request id; the parsed body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    uuid.UUID(resp.headers["x-amzn-RequestId"])
    if body is not None:
        assert resp.json() == body
    return resp.json()
