"""Authenticate a JWO request: SigV4 against the retailer's access key, then the rate limit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from catalog_ingest.api import sigv4
from catalog_ingest.engine import key_usage
from catalog_ingest.engine.access import access_key
from catalog_ingest.errors import AuthenticationFailed
from catalog_ingest.observability import logs
from catalog_ingest.runtime import Runtime


@dataclass(frozen=True)
class Caller:
    retailer_id: str
    access_key_id: str


@dataclass
class RawRequest:
    """What signature checking needs of a request, captured on the event loop."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    query_params: list[tuple[str, str]]
    body: bytes
    base_url: str

    #: Hex SHA-256 of the body, for the signature and for idempotency.
    body_sha256: str

    @classmethod
    async def capture(cls, request: Request) -> RawRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers.raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        # Hash while the body arrives: the digest costs nothing extra once the last chunk is in.
        digest, chunks = hashlib.sha256(), []
        async for chunk in request.stream():
            digest.update(chunk)
            chunks.append(chunk)
        return cls(
            request.method, raw_path.decode("latin-1"), request.url.query, headers,
            list(request.query_params.multi_items()), b"".join(chunks),
            str(request.base_url).rstrip("/"), digest.hexdigest(),
        )


def authenticate(svc: Runtime, raw: RawRequest) -> Caller:
    """The caller's retailer, or AuthenticationFailed with the contract's exact message."""
    signed = sigv4.parse_request(raw.headers, raw.query_params)
    key = access_key(svc, signed.access_key_id)
    if key is None or key.revoked:
        raise AuthenticationFailed(sigv4.INVALID_TOKEN)
    sigv4.check_clock(signed, datetime.now(UTC))
    sigv4.verify_signature(
        signed, method=raw.method, raw_path=raw.raw_path, raw_query=raw.raw_query,
        headers=raw.headers, body=raw.body, secret_key=key.secret_access_key,
        region=svc.settings.region, payload_hash=raw.body_sha256,
    )
    if not key.retailer_enabled:
        path = raw.raw_path.split("?", 1)[0]
        raise AuthenticationFailed(sigv4.not_authorized_message(key.access_key_id, path))
    key_usage.note_use(svc, key.access_key_id, key.last_used_at)
    logs.note(retailer_id=key.retailer_id)
    return Caller(key.retailer_id, key.access_key_id)
