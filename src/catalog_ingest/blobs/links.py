"""HMAC-SHA256 pre-signed links: the link itself is the credential for a report.

A link is ``<base_url><path>?expires=<unix seconds>&signature=<64 hex>``.  The signature is
``HMAC-SHA256(secret, "catalog-ingest/link/v1\\n" + path + "\\n" + expires)``: the purpose
and version prefix keeps it from being a valid MAC for anything else made with the same
server secret, and it covers the exact path and expiry strings, so a link cannot be moved
to another upload's report nor extended.

``verify_path`` checks the signature first and the expiry only after it holds, so an
altered expiry is ``LinkInvalid``, never ``LinkExpired`` and never accepted.  Both are
``AuthenticationFailed``: the JWO report route answers them 403, the Merchant-Center
rejection-report route 400 (``mmc-api.md``).

Sign and verify the same form of the path: the URL path exactly as the route receives it
(made of URL-safe characters, as ingestion ids are).  The secret must be at least 16 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from catalog_ingest.errors import AuthenticationFailed, ConfigurationError

EXPIRED_MESSAGE = "Request has expired"
INVALID_MESSAGE = "The request signature we calculated does not match the signature you provided"
MIN_SECRET_BYTES = 16

_PREFIX = b"catalog-ingest/link/v1\n"
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,15}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class LinkExpired(AuthenticationFailed):
    """A genuine link whose expiry time has passed."""

    def __init__(self) -> None:
        super().__init__(EXPIRED_MESSAGE)


class LinkInvalid(AuthenticationFailed):
    """A link whose signature, path or expiry is missing, garbled or altered."""

    def __init__(self) -> None:
        super().__init__(INVALID_MESSAGE)


def _mac(secret: bytes, path: str, expires: str) -> str:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the link secret must be at least {MIN_SECRET_BYTES} bytes")
    message = _PREFIX + path.encode("utf-8") + b"\n" + expires.encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_path(secret: bytes, path: str, expires_at: int) -> str:
    """The query string that makes ``path`` readable until ``expires_at`` (unix seconds)."""
    if expires_at < 0:
        raise ValueError("expires_at must not be negative")
    expires = str(expires_at)
    return urlencode({"expires": expires, "signature": _mac(secret, path, expires)})


def verify_path(secret: bytes, path: str, params: Mapping[str, str], now: float) -> None:
    """Accept a genuine, unexpired link; else raise ``LinkInvalid`` or ``LinkExpired``."""
    expires = params.get("expires")
    signature = params.get("signature")
    if expires is None or signature is None:
        raise LinkInvalid()
    if not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
        raise LinkInvalid()
    expected = _mac(secret, path, expires)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise LinkInvalid()
    if now > int(expires):
        raise LinkExpired()


def presigned_url(base_url: str, path: str, secret: bytes, ttl_seconds: int, now: float) -> str:
    """``base_url`` + ``path`` + a signature valid for ``ttl_seconds`` from ``now``."""
    if "?" in path or "#" in path or not path.startswith("/"):
        raise ValueError(f"not a bare absolute path: {path!r}")
    expires_at = int(now) + ttl_seconds
    return f"{base_url.rstrip('/')}{path}?{sign_path(secret, path, expires_at)}"
