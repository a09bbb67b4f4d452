"""Unit tests for server-side SigV4 verification against botocore- and curl-signed requests."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_ingest.api.sigv4 import (
    INVALID_TOKEN,
    MISSING_TOKEN,
    SIGNATURE_MISMATCH,
    WRONG_SERVICE,
    SignedRequest,
    bad_date_message,
    canonical_uri,
    check_clock,
    not_authorized_message,
    parse_request,
    verify_signature,
    wrong_region_message,
)
from catalog_ingest.errors import AuthenticationFailed, CatalogIngestError

KEY = "AKIDEXAMPLE0000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
BASE = "https://catalog.example.com"
UPLOAD = "/v1/catalog/upload"


@dataclass
class Wire:
    """A request as the server receives it."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes
    query_params: list[tuple[str, str]] = field(default_factory=list)

    def signed(self) -> SignedRequest:
        return parse_request(self.headers, self.query_params)

    def verify(self, *, secret: str = SECRET, region: str = REGION, **changes: Any) -> None:
        wire = replace(self, **changes)
        verify_signature(
            wire.signed(),
            method=wire.method,
            raw_path=wire.raw_path,
            raw_query=wire.raw_query,
            headers=wire.headers,
            body=wire.body,
            secret_key=secret,
            region=region,
        )

    def now(self) -> datetime:
        return datetime.strptime(self.signed().amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _host(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname or ""
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def to_wire(request: AWSRequest) -> Wire:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers.setdefault("host", _host(prepared.url))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Wire(
        method=prepared.method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers=headers,
        body=body,
        query_params=parse_qsl(parts.query, keep_blank_values=True),
    )


def sign(
    url: str = BASE + UPLOAD,
    body: bytes | str = b'{"catalogItems": []}',
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    region: str = REGION,
    service: str = "execute-api",
    secret: str = SECRET,
) -> Wire:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    request = AWSRequest(method=method, url=url, data=body, headers=all_headers, params=params)
    SigV4Auth(Credentials(KEY, secret), service, region).add_auth(request)
    return to_wire(request)


def presign(url: str, *, expires: int = 300, method: str = "GET") -> Wire:
    request = AWSRequest(method=method, url=url)
    SigV4QueryAuth(Credentials(KEY, SECRET), "execute-api", REGION, expires=expires).add_auth(
        request
    )
    return to_wire(request)


def refused(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AuthenticationFailed) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, CatalogIngestError)
    return info.value.message


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"catalogItems": []}',
        json.dumps({"catalogItems": [{"item_name": "Crème brûlée 🍮 — 日本"}]}).encode("utf-8"),
        json.dumps({"catalogItems": [{"item_name": "Crème brûlée"}]}, ensure_ascii=False),
        bytes(range(256)),
    ],
)
def test_botocore_signed_bodies_verify(body: bytes | str) -> None:
    wire = sign(body=body)
    assert wire.signed().presigned is False
    check_clock(wire.signed(), wire.now())
    wire.verify()


def test_parse_reads_the_authorization_header() -> None:
    signed = sign().signed()
    assert signed.access_key_id == KEY
    assert signed.region == REGION
    assert signed.service == "execute-api"
    assert signed.credential_date == signed.amz_date[:8]
    assert "host" in signed.signed_headers and "x-amz-date" in signed.signed_headers
    assert len(signed.signature) == 64


@pytest.mark.parametrize(
    "query", ["a=1&b=x%20y&b=a", "b=2&a=1&a=", "z=%E2%9C%93&y=%2B&x=~._-", "empty&flag=&a=%2F"]
)
def test_query_strings_verify(query: str) -> None:
    wire = sign(f"{BASE}{UPLOAD}?{query}")
    assert wire.raw_query == query
    wire.verify()


def test_params_argument_with_spaces_and_plus_verifies() -> None:
    wire = sign(params=[("q", "x y+z"), ("a", "é/~*"), ("q", "")])
    assert "+" in wire.raw_query  # sent form-encoded, signed percent-encoded
    wire.verify()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/catalog/a%20b/%C3%A9t%C3%A9",
        "/v1/catalog/x%2Fy/~tilde/it's(1)!*",
        "/v1//catalog/./upload/",
        "/v1/catalog/../catalog/upload",
        "/",
    ],
)
def test_paths_with_encoded_characters_verify(path: str) -> None:
    wire = sign(BASE + path)
    assert wire.raw_path == path
    wire.verify()


def test_canonical_uri_encodes_the_arrived_path_again() -> None:
    assert canonical_uri("/v1/catalog/a%20b") == "/v1/catalog/a%2520b"
    assert canonical_uri("/a//b/./c/../d/") == "/a/b/d/"
    assert canonical_uri("") == "/"


def test_extra_signed_header_and_port_in_host() -> None:
    wire = sign(
        "http://localhost:8443" + UPLOAD,
        headers={"X-Retailer-Trace": "  a   b\tc  ", "X-Amz-Content-SHA256": "ignored?"},
    )
    # botocore signs the header's value as payload hash; we always hash the body ourselves.
    signed = wire.signed()
    assert "x-retailer-trace" in signed.signed_headers
    assert wire.headers["host"] == "localhost:8443"
    with pytest.raises(AuthenticationFailed):
        wire.verify()
    wire = sign("http://localhost:8443" + UPLOAD, headers={"X-Retailer-Trace": "  a   b\tc  "})
    wire.verify()
    wire.verify(headers={**wire.headers, "x-retailer-trace": "a b c"})  # whitespace folding


def test_correct_content_sha256_header_verifies_unsigned_payload_does_not() -> None:
    body = b'{"catalogItems": [1]}'
    good = sign(body=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    good.verify()
    unsigned = sign(body=body, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refused(unsigned.verify) == SIGNATURE_MISMATCH


def test_date_header_instead_of_x_amz_date() -> None:
    wire = sign()
    stamp = wire.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers = {k: v for k, v in wire.headers.items() if k != "x-amz-date"}
    headers["date"] = stamp
    assert parse_request(headers, []).amz_date == wire.signed().amz_date


def test_signing_key_cache_serves_many_keys() -> None:
    for secret in ("s1", "s2", "s3"):
        sign(secret=secret).verify(secret=secret)
    assert refused(sign(secret="s1").verify, secret="s2") == SIGNATURE_MISMATCH


# --------------------------------------------------------------------------- refused


def test_altered_body_fails() -> None:
    wire = sign(body=b'{"catalogItems": [{"sku": "A"}]}')
    assert refused(wire.verify, body=b'{"catalogItems": [{"sku": "B"}]}') == SIGNATURE_MISMATCH


def test_altered_signed_header_fails() -> None:
    wire = sign(headers={"X-Retailer-Trace": "one"})
    changed = {**wire.headers, "x-retailer-trace": "two"}
    assert refused(wire.verify, headers=changed) == SIGNATURE_MISMATCH
    changed = {**wire.headers, "host": "evil.example.com"}
    assert refused(wire.verify, headers=changed) == SIGNATURE_MISMATCH
    dropped = {k: v for k, v in wire.headers.items() if k != "x-retailer-trace"}
    assert refused(wire.verify, headers=dropped) == SIGNATURE_MISMATCH


def test_altered_path_query_method_fail() -> None:
    wire = sign(f"{BASE}{UPLOAD}?a=1")
    assert refused(wire.verify, raw_path="/v1/catalog/archive") == SIGNATURE_MISMATCH
    assert refused(wire.verify, raw_path="/v1/catalog/upload%20") == SIGNATURE_MISMATCH
    assert refused(wire.verify, raw_query="a=2") == SIGNATURE_MISMATCH
    assert refused(wire.verify, raw_query="a=1&b=1") == SIGNATURE_MISMATCH
    assert refused(wire.verify, method="PUT") == SIGNATURE_MISMATCH


def test_wrong_secret_fails() -> None:
    assert refused(sign().verify, secret=SECRET + "x") == SIGNATURE_MISMATCH


def test_unsigned_host_fails() -> None:
    wire = sign()
    signed = replace(wire.signed(), signed_headers=("content-type", "x-amz-date"))
    message = refused(
        verify_signature,
        signed,
        method="POST",
        raw_path=UPLOAD,
        raw_query="",
        headers=wire.headers,
        body=wire.body,
        secret_key=SECRET,
        region=REGION,
    )
    assert message == SIGNATURE_MISMATCH


def test_wrong_region_and_service() -> None:
    assert refused(sign(region="eu-west-1").verify) == wrong_region_message("eu-west-1")
    assert wrong_region_message("eu-west-1") == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    )
    assert refused(sign().verify, region="us-west-2") == wrong_region_message(REGION)
    assert refused(sign(service="es").verify) == WRONG_SERVICE


def test_scope_date_other_than_request_day_fails() -> None:
    wire = sign()
    signed = replace(wire.signed(), credential_date="19991231")
    with pytest.raises(AuthenticationFailed) as info:
        verify_signature(
            signed,
            method="POST",
            raw_path=UPLOAD,
            raw_query="",
            headers=wire.headers,
            body=wire.body,
            secret_key=SECRET,
            region=REGION,
        )
    assert info.value.message == SIGNATURE_MISMATCH


def test_missing_authentication() -> None:
    assert refused(parse_request, {"host": "h"}, []) == MISSING_TOKEN
    assert refused(parse_request, {}, [("a", "1"), ("X-Amz-Foo", "b")]) == MISSING_TOKEN


def test_malformed_authorization_headers() -> None:
    dated = {"x-amz-date": "20261122T100000Z"}
    message = refused(parse_request, {**dated, "authorization": "Bearer sometoken"}, [])
    assert message == (
        "'sometoken' not a valid key=value pair (missing equal-sign) "
        "in Authorization header: 'Bearer sometoken'."
    )
    message = refused(parse_request, {"authorization": ""}, [])
    assert message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization="
    )
    header = "AWS4-HMAC-SHA256 Credential=K/20261122/us-east-1/execute-api/aws4_request"
    message = refused(parse_request, {**dated, "authorization": header}, [])
    assert message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        f"Authorization={header}"
    )
    full = "Credential=K/20261122/us-east-1/execute-api/aws4_request,SignedHeaders=host,Signature=0"
    for bad in (
        f"AWS4-HMAC-SHA512 {full}",
        f"AWS4-HMAC-SHA256 {full.replace('aws4_request', 'aws5_request')}",
        f"AWS4-HMAC-SHA256 {full.replace('K/', '')}",
    ):
        assert refused(parse_request, {**dated, "authorization": bad}, []) == INVALID_TOKEN


def test_authorization_spacing_variations_parse() -> None:
    cred = "Credential=K/20261122/us-east-1/execute-api/aws4_request"
    for header in (
        f"AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;x-amz-date, Signature=abc",
        f"AWS4-HMAC-SHA256 {cred},SignedHeaders=host;x-amz-date,Signature=abc",
        f"  AWS4-HMAC-SHA256   {cred} ,  SignedHeaders=host;x-amz-date ,Signature=abc  ",
        f"AWS4-HMAC-SHA256 {cred} SignedHeaders=HOST;X-Amz-Date Signature=abc",
    ):
        signed = parse_request({"authorization": header, "x-amz-date": "20261122T100000Z"}, [])
        assert signed.access_key_id == "K"
        assert signed.signed_headers == ("host", "x-amz-date")
        assert signed.signature == "abc"


# --------------------------------------------------------------------------- clock


def test_clock_within_five_minutes_passes() -> None:
    wire = sign()
    for offset in (-300, -1, 0, 1, 300):
        check_clock(wire.signed(), wire.now() + timedelta(seconds=offset, microseconds=999))


def test_clock_skew_messages() -> None:
    signed = replace(sign().signed(), amz_date="20261122T100000Z")
    late = datetime(2026, 11, 22, 10, 6, 0, 123456, tzinfo=UTC)
    assert refused(check_clock, signed, late) == (
        "Signature expired: 20261122T100000Z is now earlier than 20261122T100100Z "
        "(20261122T100600Z - 5 min.)"
    )
    early = datetime(2026, 11, 22, 9, 54, 0, tzinfo=UTC)
    assert refused(check_clock, signed, early) == (
        "Signature expired: 20261122T100000Z is now later than 20261122T095900Z "
        "(20261122T095400Z + 5 min.)"
    )


def test_clock_naive_now_is_utc_and_bad_dates_are_refused() -> None:
    signed = replace(sign().signed(), amz_date="20261122T100000Z")
    check_clock(signed, datetime(2026, 11, 22, 10, 0, 0))
    for bad in ("2026-11-22T10:00:00Z", "20261322T100000Z", "20261122T1000Z", ""):
        assert refused(check_clock, replace(signed, amz_date=bad), datetime.now(UTC)) == (
            bad_date_message(bad)
        )
    assert bad_date_message("x") == (
        "Date must be in ISO-8601 'basic format'. Got 'x'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_skew_on_botocore_request_both_ways() -> None:
    wire = sign()
    assert refused(check_clock, wire.signed(), wire.now() + timedelta(minutes=6)).startswith(
        f"Signature expired: {wire.signed().amz_date} is now earlier than "
    )
    assert refused(check_clock, wire.signed(), wire.now() - timedelta(minutes=6)).startswith(
        f"Signature expired: {wire.signed().amz_date} is now later than "
    )


# --------------------------------------------------------------------------- pre-signed


def test_presigned_query_verifies() -> None:
    wire = presign(f"{BASE}/v1/catalog/report?upload=abc%20d&x=1", expires=600)
    signed = wire.signed()
    assert signed.presigned and signed.expires == 600
    assert "authorization" not in wire.headers
    check_clock(signed, wire.now() + timedelta(seconds=600))
    wire.verify()


def test_presigned_expiry_and_tampering() -> None:
    wire = presign(f"{BASE}/v1/catalog/report?upload=abc", expires=60)
    message = refused(check_clock, wire.signed(), wire.now() + timedelta(seconds=61))
    assert message.startswith(f"Signature expired: {wire.signed().amz_date} is now earlier than ")
    assert message.endswith(" - 60 sec.)")
    assert refused(check_clock, wire.signed(), wire.now() - timedelta(minutes=6)).startswith(
        "Signature expired:"
    )
    longer = wire.raw_query.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")
    assert refused(wire.verify, raw_query=longer) == SIGNATURE_MISMATCH
    other = wire.raw_query.replace("upload=abc", "upload=abd")
    assert refused(wire.verify, raw_query=other) == SIGNATURE_MISMATCH
    assert refused(wire.verify, body=b"smuggled") == SIGNATURE_MISMATCH


def test_presigned_post_moves_body_to_query_and_verifies() -> None:
    request = AWSRequest(method="POST", url=f"{BASE}{UPLOAD}", data={"a": "1"})
    SigV4QueryAuth(Credentials(KEY, SECRET), "execute-api", REGION).add_auth(request)
    to_wire(request).verify()


@pytest.mark.parametrize(
    "drop_or_change",
    [
        ("X-Amz-Algorithm", None),
        ("X-Amz-Signature", None),
        ("X-Amz-Expires", "ten"),
        ("X-Amz-Expires", "604801"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
    ],
)
def test_malformed_presigned_query(drop_or_change: tuple[str, str | None]) -> None:
    name, value = drop_or_change
    params = presign(f"{BASE}/v1/catalog/report").query_params
    params = [
        (n, v if n != name or value is None else value)
        for n, v in params
        if n != name or value is not None
    ]
    assert refused(parse_request, {"host": "h"}, params) == INVALID_TOKEN
    duplicated = [*presign(f"{BASE}/r").query_params, ("X-Amz-Signature", "00")]
    assert refused(parse_request, {}, duplicated) == INVALID_TOKEN


def test_not_authorized_message() -> None:
    assert not_authorized_message("AKID1", "/v1/catalog/upload") == (
        "User: AKID1 is not authorized to perform: execute-api:Invoke "
        "on resource: /v1/catalog/upload"
    )


# --------------------------------------------------------------------------- properties

_query_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=2048),
    params=st.lists(st.tuples(_query_text.filter(bool), _query_text), max_size=6),
    flip=st.integers(min_value=0),
)
def test_property_botocore_signed_verifies_and_body_flip_fails(
    body: bytes, params: list[tuple[str, str]], flip: int
) -> None:
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
    wire = sign(f"{BASE}{UPLOAD}" + (f"?{query}" if query else ""), body=body)
    wire.verify()
    if body:
        index = flip % len(body)
        altered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert refused(wire.verify, body=altered) == SIGNATURE_MISMATCH
    else:
        assert refused(wire.verify, body=b"\x00") == SIGNATURE_MISMATCH


@settings(max_examples=100, deadline=None)
@given(params=st.lists(st.tuples(_query_text.filter(bool), _query_text), min_size=1, max_size=5))
def test_property_params_argument_verifies(params: list[tuple[str, str]]) -> None:
    sign(params=params).verify()


# --------------------------------------------------------------------------- curl


@dataclass
class Captured:
    method: str = ""
    path: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@pytest.fixture
def capture_server() -> Iterator[tuple[str, Captured]]:
    captured = Captured()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            captured.method = self.command
            captured.path = self.path
            captured.headers = [(k.lower(), v) for k, v in self.headers.items()]
            captured.body = self.rfile.read(length)
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()


def _curl_version() -> tuple[int, ...] | None:
    curl = shutil.which("curl")
    if curl is None:
        return None
    first = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout.split()
    return tuple(int(x) for x in first[1].split(".")[:3])


def test_curl_aws_sigv4_request_verifies(capture_server: tuple[str, Captured]) -> None:
    version = _curl_version()
    if version is None:
        pytest.skip(
            "!!! curl is not installed: the curl --aws-sigv4 interoperability test did not run"
        )
    assert version >= (7, 75, 0), f"curl {version} has no --aws-sigv4"
    base, captured = capture_server
    result = subprocess.run(
        [
            "curl", "-sS", "--fail",
            "--aws-sigv4", "aws:amz:us-east-1:execute-api",
            "--user", f"{KEY}:{SECRET}",
            "-H", "content-type: application/json",
            "-d", '{"x":1}',
            f"{base}{UPLOAD}?a=1&b=x%20y",  # curl 7.88 signs the query unsorted, as sent
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    headers: dict[str, str] = {}
    for name, value in captured.headers:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path, _, raw_query = captured.path.partition("?")
    signed = parse_request(headers, parse_qsl(raw_query, keep_blank_values=True))
    assert signed.access_key_id == KEY and signed.service == "execute-api"
    check_clock(signed, datetime.now(UTC))
    common = {"method": captured.method, "raw_path": raw_path, "raw_query": raw_query}
    verify_signature(
        signed, **common, headers=headers, body=captured.body, secret_key=SECRET, region=REGION
    )
    assert captured.body == b'{"x":1}'
    with pytest.raises(AuthenticationFailed):
        verify_signature(
            signed, **common, headers=headers, body=b'{"x":2}', secret_key=SECRET, region=REGION
        )


# --------------------------------------------------------------------------- cost


def test_microbench_verify_cost(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the per-call cost of verify_signature; asserts nothing about it."""
    results = {}
    for label, body in (("tiny", b'{"catalogItems": []}'), ("4MB", b"x" * (4 * 1024 * 1024))):
        wire = sign(body=body)
        signed = wire.signed()
        rounds = 20 if len(body) > 1000 else 2000
        start = time.perf_counter()
        for _ in range(rounds):
            verify_signature(
                signed,
                method=wire.method,
                raw_path=wire.raw_path,
                raw_query=wire.raw_query,
                headers=wire.headers,
                body=wire.body,
                secret_key=SECRET,
                region=REGION,
            )
        results[label] = (time.perf_counter() - start) / rounds * 1e6
    with capsys.disabled():
        print(
            f"\nverify_signature: tiny body {results['tiny']:.1f} us/call, "
            f"4 MiB body {results['4MB']:.0f} us/call"
        )
