"""Server-side AWS Signature Version 4 verification for service ``execute-api``, as API Gateway.

Use it in this order on every request (``jwo-api.md`` "Authentication")::

    signed = parse_request(headers, query_params)    # MISSING_TOKEN / malformed
    secret = <look up signed.access_key_id>           # unknown or revoked -> INVALID_TOKEN
    check_clock(signed, now)                          # "Signature expired: ..."
    verify_signature(signed, method=..., raw_path=..., raw_query=..., headers=...,
                     body=..., secret_key=secret, region=settings.region)
    <retailer disabled> -> AuthenticationFailed(not_authorized_message(key_id, path))

Every failure is ``AuthenticationFailed(message)``, answered 403 ``{"message": ...}``.

Decisions (where the contract table in ``jwo-api.md`` is silent):

* A malformed ``Authorization`` header gets API Gateway's own IncompleteSignature texts,
  as seen from real API Gateway answers: a part without ``=`` gives
  ``'<part>' not a valid key=value pair (missing equal-sign) in Authorization header:
  '<header>'.``; missing parts give ``Authorization header requires 'Credential'
  parameter. ... Authorization=<header>``.  These echo the header back to its own sender,
  as AWS does (a SigV4 header holds no secret).  A well-formed header with another
  algorithm, a credential that is not ``KEY/YYYYMMDD/region/service/aws4_request``, or a
  pre-signed query lacking one of its six parameters (or with ``X-Amz-Expires`` not an
  integer in 0..604800) gets ``INVALID_TOKEN``.
* Scope: a service other than ``execute-api`` gives AWS's ``Credential should be scoped
  to correct service: 'execute-api'. `` and a region other than the configured one gives
  ``Credential should be scoped to a valid region, not '<region>'. `` (both end with a
  space, as AWS's do).  A scope date that is not the request date's day, or ``host`` not
  among the signed headers, gives ``SIGNATURE_MISMATCH``.
* A date that is not ISO 8601 basic format (``20261122T100000Z``) gives AWS's
  ``Date must be in ISO-8601 'basic format'. Got '<date>'. See
  http://en.wikipedia.org/wiki/ISO_8601`` (wording recalled from AWS, not re-verified).
  With no ``X-Amz-Date`` header the ``Date`` header (RFC 7231) is used, converted to
  basic format for the string to sign.
* Pre-signed requests: valid from ``X-Amz-Date`` - 5 min to ``X-Amz-Date`` +
  ``X-Amz-Expires``; past that ``Signature expired: <amz-date> is now earlier than
  <now - expires> (<now> - <expires> sec.)``.
* The payload hash is always ``sha256(body)`` computed here, for header and pre-signed
  requests alike; ``x-amz-content-sha256`` is never trusted and ``UNSIGNED-PAYLOAD`` is
  never accepted, so a body altered after signing always fails.  (botocore's
  ``SigV4QueryAuth`` for non-S3 services signs ``sha256(body)`` too.)
* Canonical URI: ``quote(remove_dot_segments(raw_path), safe="/~")`` exactly as
  botocore's ``SigV4Auth`` (non-S3: the already percent-encoded path is encoded again).
  ``raw_path`` is the path as it arrived (ASGI ``scope["raw_path"]``, without query).
* Canonical query: each ``&``-separated pair of ``raw_query`` is decoded the way the
  application reads it (``+`` is a space, ``%XX`` a byte) and re-encoded with only
  ``A-Za-z0-9-_.~`` kept, then sorted by name, then value.  So the signature covers
  exactly what the application sees, and requests from signers that percent-encode
  canonically (botocore's serializers, ``params=``, SigV4QueryAuth) verify.  A literal
  ``+`` must be sent as ``%2B``.
* Canonical headers: ``headers`` maps lower-case names to values; a header repeated on
  the wire must be passed with its values joined by ``,``.  Values are trimmed and runs
  of whitespace collapsed (botocore's ``' '.join(v.split())``).  A signed header that is
  absent gives ``SIGNATURE_MISMATCH``.
* The derived signing key is cached per (secret, date, region, service).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from catalog_ingest.errors import AuthenticationFailed

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_PRESIGN_EXPIRES = 604800
CLOCK_SKEW = timedelta(minutes=5)
BASIC_FORMAT = "%Y%m%dT%H%M%SZ"

MISSING_TOKEN = "Missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
WRONG_SERVICE = f"Credential should be scoped to correct service: '{SERVICE}'. "

_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_BASIC_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SEPARATORS = re.compile(r"[,\s]+")
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class SignedRequest:
    """What a request claims about its signature, before any of it is checked."""

    access_key_id: str
    credential_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None = None


def not_authorized_message(key_id: str, path: str) -> str:
    """The 403 text for a valid key whose retailer may not call the API."""
    return f"User: {key_id} is not authorized to perform: execute-api:Invoke on resource: {path}"


def wrong_region_message(region: str) -> str:
    """AWS's text for a credential scoped to another region than the server's."""
    return f"Credential should be scoped to a valid region, not '{region}'. "


def bad_date_message(value: str) -> str:
    """AWS's text for a request date that is not ISO 8601 basic format."""
    return (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


# --------------------------------------------------------------------------- parsing


def parse_request(headers: Mapping[str, str], query_params: list[tuple[str, str]]) -> SignedRequest:
    """Read the signature claims from the Authorization header or a pre-signed query."""
    authorization = headers.get("authorization")
    if authorization is not None:
        return _parse_authorization(authorization, headers)
    if any(name in _PRESIGN_PARAMS for name, _ in query_params):
        return _parse_presigned(query_params)
    raise AuthenticationFailed(MISSING_TOKEN)


def _parse_authorization(value: str, headers: Mapping[str, str]) -> SignedRequest:
    algorithm, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    parts: dict[str, str] = {}
    for token in _SEPARATORS.split(rest):
        if not token:
            continue
        name, eq, part = token.partition("=")
        if not eq:
            raise AuthenticationFailed(
                f"'{token}' not a valid key=value pair (missing equal-sign) "
                f"in Authorization header: '{value}'."
            )
        parts.setdefault(name, part)
    amz_date = _header_date(headers)
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in parts
    ]
    if amz_date is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing or amz_date is None:
        raise AuthenticationFailed(" ".join([*missing, f"Authorization={value}"]))
    if algorithm != ALGORITHM:
        raise AuthenticationFailed(INVALID_TOKEN)
    key_id, date, region, service = _parse_credential(parts["Credential"])
    return SignedRequest(
        access_key_id=key_id,
        credential_date=date,
        region=region,
        service=service,
        signed_headers=_signed_header_names(parts["SignedHeaders"]),
        signature=parts["Signature"],
        amz_date=amz_date,
        presigned=False,
    )


def _parse_presigned(query_params: list[tuple[str, str]]) -> SignedRequest:
    found: dict[str, str] = {}
    for name, value in query_params:
        if name in _PRESIGN_PARAMS:
            if name in found:
                raise AuthenticationFailed(INVALID_TOKEN)
            found[name] = value
    if len(found) != len(_PRESIGN_PARAMS) or found["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthenticationFailed(INVALID_TOKEN)
    expires_text = found["X-Amz-Expires"]
    if not (expires_text.isascii() and expires_text.isdigit()):
        raise AuthenticationFailed(INVALID_TOKEN)
    expires = int(expires_text)
    if expires > MAX_PRESIGN_EXPIRES:
        raise AuthenticationFailed(INVALID_TOKEN)
    key_id, date, region, service = _parse_credential(found["X-Amz-Credential"])
    return SignedRequest(
        access_key_id=key_id,
        credential_date=date,
        region=region,
        service=service,
        signed_headers=_signed_header_names(found["X-Amz-SignedHeaders"]),
        signature=found["X-Amz-Signature"],
        amz_date=found["X-Amz-Date"],
        presigned=True,
        expires=expires,
    )


def _parse_credential(value: str) -> tuple[str, str, str, str]:
    pieces = value.split("/")
    if len(pieces) != 5 or not all(pieces) or pieces[4] != TERMINATOR:
        raise AuthenticationFailed(INVALID_TOKEN)
    return pieces[0], pieces[1], pieces[2], pieces[3]


def _signed_header_names(value: str) -> tuple[str, ...]:
    return tuple(sorted({name.strip().lower() for name in value.split(";") if name.strip()}))


def _header_date(headers: Mapping[str, str]) -> str | None:
    """The request time: X-Amz-Date as sent, else the Date header in basic format."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        return amz_date.strip()
    date = headers.get("date")
    if date is None:
        return None
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return date.strip()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(BASIC_FORMAT)


# --------------------------------------------------------------------------- clock


def _parse_basic(value: str) -> datetime:
    if not _BASIC_DATE.fullmatch(value):
        raise AuthenticationFailed(bad_date_message(value))
    try:  # by position: strptime costs a tenth of a signed status poll
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=UTC)
    except ValueError:
        raise AuthenticationFailed(bad_date_message(value)) from None


def check_clock(signed: SignedRequest, now: datetime) -> None:
    """Refuse a request dated more than 5 minutes from ``now`` (or a spent pre-signed one)."""
    when = _parse_basic(signed.amz_date)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC).replace(microsecond=0)

    def fmt(moment: datetime) -> str:
        return moment.strftime(BASIC_FORMAT)

    if when > now + CLOCK_SKEW:
        raise AuthenticationFailed(
            f"Signature expired: {signed.amz_date} is now later than "
            f"{fmt(now + CLOCK_SKEW)} ({fmt(now)} + 5 min.)"
        )
    if signed.presigned:
        window = timedelta(seconds=signed.expires or 0)
        if when < now - window:
            raise AuthenticationFailed(
                f"Signature expired: {signed.amz_date} is now earlier than "
                f"{fmt(now - window)} ({fmt(now)} - {signed.expires} sec.)"
            )
    elif when < now - CLOCK_SKEW:
        raise AuthenticationFailed(
            f"Signature expired: {signed.amz_date} is now earlier than "
            f"{fmt(now - CLOCK_SKEW)} ({fmt(now)} - 5 min.)"
        )


# --------------------------------------------------------------------------- canonical form


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 plus collapsing of empty segments, as botocore does for SigV4."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and output else ""
    return first + "/".join(output) + last


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a non-S3 service: the arrived path, normalized, encoded again."""
    if not raw_path:
        return "/"
    return quote(_remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str, *, presigned: bool = False) -> str:
    """Pairs decoded as the application reads them, re-encoded (RFC 3986), sorted."""
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        enc_name = quote(unquote_to_bytes(name.replace("+", " ")), safe=_UNRESERVED)
        if presigned and enc_name == "X-Amz-Signature":
            continue
        pairs.append((enc_name, quote(unquote_to_bytes(value.replace("+", " ")), safe=_UNRESERVED)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(signed_headers: tuple[str, ...], headers: Mapping[str, str]) -> str:
    """``name:trimmed value`` lines for the signed headers, each followed by a newline."""
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise AuthenticationFailed(SIGNATURE_MISMATCH)
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def canonical_request(
    signed: SignedRequest,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    payload_hash: str,
) -> str:
    """The SigV4 canonical request, as AWS rebuilds it (useful to log on a mismatch)."""
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query, presigned=signed.presigned),
            canonical_headers(signed.signed_headers, headers),
            ";".join(signed.signed_headers),
            payload_hash,
        )
    )


# --------------------------------------------------------------------------- signature


@lru_cache(maxsize=1024)
def _signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _check_scope(signed: SignedRequest, region: str) -> None:
    if signed.service != SERVICE:
        raise AuthenticationFailed(WRONG_SERVICE)
    if signed.region != region:
        raise AuthenticationFailed(wrong_region_message(signed.region))
    if signed.credential_date != signed.amz_date[:8] or "host" not in signed.signed_headers:
        raise AuthenticationFailed(SIGNATURE_MISMATCH)


def verify_signature(
    signed: SignedRequest,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_key: str,
    region: str,
    payload_hash: str | None = None,
) -> None:
    """Rebuild the signature AWS would compute and compare it in constant time.

    `payload_hash` is the body's SHA-256 hex digest when the caller already has it.
    """
    _check_scope(signed, region)
    creq = canonical_request(
        signed,
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers,
        payload_hash=payload_hash or hashlib.sha256(body).hexdigest(),
    )
    scope = f"{signed.credential_date}/{signed.region}/{signed.service}/{TERMINATOR}"
    string_to_sign = "\n".join(
        (ALGORITHM, signed.amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest())
    )
    key = _signing_key(secret_key, signed.credential_date, signed.region, signed.service)
    expected = hmac.digest(key, string_to_sign.encode("utf-8"), "sha256").hex()
    if not hmac.compare_digest(expected.encode("ascii"), signed.signature.encode("utf-8")):
        raise AuthenticationFailed(SIGNATURE_MISMATCH)
