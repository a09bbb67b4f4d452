"""Unit tests of the synchronous retailer SDK against a scripted httpx.MockTransport server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import msgspec
import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest import client as sdk
from catalog_ingest.client import _protocol as proto
from catalog_ingest.client._retry import RetryPolicy, parse_retry_after
from catalog_ingest.errors import CatalogIngestError, ConfigurationError

ENDPOINT = "https://catalog.example.com"
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ITEM = {
    "item_sku": "A-1",
    "external_product_id": "4006381333931",
    "item_name": "Pencil",
    "store_id": "store-01",
}
Reply = httpx.Response | Exception


# --- a botocore-independent SigV4 verifier (AWS's published algorithm) ----------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_query(query: bytes) -> str:
    pairs = sorted(parse_qsl(query.decode(), keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def verify_sigv4(request: httpx.Request, secrets: dict[str, str], region: str = "us-east-1") -> str:
    """Recompute the request's signature from scratch; returns the access key id used."""
    algorithm, _, rest = request.headers["authorization"].partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    key_id, date, scope_region, service, terminator = fields["Credential"].split("/")
    assert (scope_region, service, terminator) == (region, "execute-api", "aws4_request")
    signed = fields["SignedHeaders"].split(";")
    assert {"host", "x-amz-date"} <= set(signed) and signed == sorted(signed)
    amz_date = request.headers["x-amz-date"]
    assert amz_date.startswith(date)
    path, _, query = request.url.raw_path.partition(b"?")
    headers = "".join(f"{h}:{' '.join(request.headers[h].split())}\n" for h in signed)
    canonical = "\n".join(
        [
            request.method,
            quote(path.decode(), safe="/~"),
            _canonical_query(query),
            headers,
            ";".join(signed),
            hashlib.sha256(request.content).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = _hmac(("AWS4" + secrets[key_id]).encode(), date)
    for part in (region, "execute-api", "aws4_request"):
        signing_key = _hmac(signing_key, part)
    expected = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["Signature"]), "signature does not verify"
    return key_id


# --- a scripted server ---------------------------------------------------------------------


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"x-amzn-RequestId": "req-1", **(headers or {})}
    if isinstance(body, bytes | str):
        return httpx.Response(status, content=body, headers=all_headers)
    return httpx.Response(status, json=body, headers=all_headers)


class FakeApi:
    """Answers requests from a script (or a default), verifying every signed request."""

    def __init__(self, *script: Reply, default: Reply | None = None, region: str = "us-east-1"):
        self.script = list(script)
        self.default = default
        self.region = region
        self.secrets = {KEY: SECRET}
        self.requests: list[httpx.Request] = []
        self.key_ids: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            if "authorization" in request.headers:
                self.key_ids.append(verify_sigv4(request, self.secrets, self.region))
            answer = self.script.pop(0) if self.script else self.default
        if answer is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


class FakeTime:
    """A clock that only moves when someone sleeps; thread-safe."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds


def make_client(api: FakeApi, fake: FakeTime | None = None, **kw: Any) -> sdk.CatalogClient:
    fake = fake or FakeTime()
    endpoint = kw.pop("endpoint", ENDPOINT)
    options: dict[str, Any] = {
        "access_key": KEY,
        "secret_key": SECRET,
        "transport": httpx.MockTransport(api),
        "sleep": fake.sleep,
        "clock": fake.clock,
        "jitter": lambda: 1.0,
        **kw,
    }
    return sdk.CatalogClient(endpoint, **options)


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Isolate the botocore chain from the machine: no env keys, no files, no metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


# --- requests and signing ------------------------------------------------------------------


def test_upload_sends_the_contract_request_signed_with_sigv4() -> None:
    api = FakeApi(reply(201, {"ingestionId": "id-1"}))
    with make_client(api) as client:
        accepted = client.upload([ITEM], idempotency_key="key-1")
    assert accepted == sdk.UploadAccepted(ingestion_id="id-1")
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT + "/v1/catalog/upload"
    assert json.loads(request.content) == {"catalogItems": [ITEM]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "key-1"
    assert api.key_ids == [KEY]
    signed = request.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "content-type;host;idempotency-key;x-amz-date"


def test_upload_raw_signs_the_exact_bytes_sent() -> None:
    body = b'{ "catalogItems" :\n [ {"item_sku": "\\u00e9"} ] }'
    api = FakeApi(reply(201, {"ingestionId": "id-1"}))
    make_client(api).upload_raw(body)
    assert api.requests[0].content == body  # verify_sigv4 hashed these very bytes


def test_signature_covers_the_body() -> None:
    api = FakeApi(reply(201, {"ingestionId": "id-1"}))
    make_client(api).upload([ITEM])
    request = api.requests[0]
    tampered = httpx.Request("POST", request.url, headers=request.headers, content=b"{}")
    with pytest.raises(AssertionError, match="does not verify"):
        verify_sigv4(tampered, {KEY: SECRET})


def test_session_token_is_sent_and_signed() -> None:
    api = FakeApi(reply(200, {"processingStatus": "INQUEUE", "reportDownloadLink": ""}))
    make_client(api, session_token="token-1").get_status("id-1")
    request = api.requests[0]
    assert request.headers["x-amz-security-token"] == "token-1"
    assert "x-amz-security-token" in request.headers["authorization"]


def test_endpoint_with_port_and_stage_path_is_signed_over_the_full_path() -> None:
    api = FakeApi(reply(200, {"processingStatus": "DONE", "reportDownloadLink": ""}))
    make_client(api, endpoint="http://localhost:8080/prod/").get_status("id-1")
    request = api.requests[0]
    assert str(request.url) == "http://localhost:8080/prod/v1/catalog/getCatalogUploadStatus"
    assert request.headers["host"] == "localhost:8080"
    assert api.key_ids == [KEY]


def test_region_comes_from_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    api = FakeApi(reply(200, {"processingStatus": "DONE"}), region="eu-west-1")
    client = make_client(api)
    assert client.region == "eu-west-1"
    client.get_status("id-1")
    assert "/eu-west-1/execute-api/" in api.requests[0].headers["authorization"]


def test_explicit_region_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert make_client(FakeApi(), region="ap-south-1").region == "ap-south-1"


def test_every_attempt_is_signed_afresh_with_the_same_idempotency_key() -> None:
    api = FakeApi(
        reply(500, {"errorMsg": proto_retry_500()}),
        httpx.ReadTimeout("lost"),
        reply(201, {"ingestionId": "id-1"}),
    )
    make_client(api).upload([ITEM])
    keys = {r.headers["idempotency-key"] for r in api.requests}
    assert len(api.requests) == 3 and len(keys) == 1 and api.key_ids == [KEY] * 3


def test_idempotency_keys_differ_between_calls() -> None:
    api = FakeApi(default=reply(201, {"ingestionId": "id-1"}))
    client = make_client(api)
    client.upload([ITEM])
    client.upload([ITEM])
    assert api.requests[0].headers["idempotency-key"] != api.requests[1].headers["idempotency-key"]


def proto_retry_500() -> str:
    return "Exception encountered while processing the request, please retry again."


# --- credentials ---------------------------------------------------------------------------


def test_credentials_from_environment_via_botocore_chain(
    no_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    api = FakeApi(reply(200, {"processingStatus": "DONE"}))
    api.secrets["AKIDENV"] = "env-secret"
    client = sdk.CatalogClient(ENDPOINT, transport=httpx.MockTransport(api))
    client.get_status("id-1")
    assert api.key_ids == ["AKIDENV"]
    assert "/us-east-1/" in api.requests[0].headers["authorization"]


def test_credentials_from_a_profile(no_aws_env: None, tmp_path: Any) -> None:
    (tmp_path / "credentials").write_text(
        "[retail]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"
    )
    api = FakeApi(reply(200, {"processingStatus": "DONE"}))
    api.secrets["AKIDPROFILE"] = "profile-secret"
    client = sdk.CatalogClient(ENDPOINT, profile="retail", transport=httpx.MockTransport(api))
    client.get_status("id-1")
    assert api.key_ids == ["AKIDPROFILE"]


def test_no_credentials_anywhere_is_a_configuration_error(no_aws_env: None) -> None:
    with pytest.raises(sdk.CredentialsNotFound) as info:
        sdk.CatalogClient(ENDPOINT)
    assert isinstance(info.value, ConfigurationError)


def test_unknown_profile_is_credentials_not_found(no_aws_env: None) -> None:
    with pytest.raises(sdk.CredentialsNotFound):
        sdk.CatalogClient(ENDPOINT, profile="nope")


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(sdk.CredentialsNotFound):
        sdk.CatalogClient(ENDPOINT, access_key=KEY)


def test_refreshable_credentials_are_re_read_for_every_request() -> None:
    issued = iter(["AKID1", "AKID2", "AKID3"])

    def refresh() -> dict[str, str]:
        expiry = datetime.now(UTC) + timedelta(minutes=1)  # inside the refresh window
        return {
            "access_key": next(issued),
            "secret_key": SECRET,
            "token": "session",
            "expiry_time": expiry.isoformat(),
        }

    creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    api = FakeApi(default=reply(200, {"processingStatus": "DONE"}))
    api.secrets.update({"AKID1": SECRET, "AKID2": SECRET, "AKID3": SECRET})
    client = make_client(api, access_key=None, secret_key=None, credentials=creds)
    client.get_status("a")
    client.get_status("b")
    assert api.key_ids == ["AKID2", "AKID3"]


def test_explicit_botocore_credentials_object() -> None:
    api = FakeApi(reply(200, {"processingStatus": "DONE"}))
    client = make_client(
        api, access_key=None, secret_key=None, credentials=Credentials(KEY, SECRET)
    )
    client.get_status("a")
    assert api.key_ids == [KEY]


# --- the contract's errors -----------------------------------------------------------------

RETRY_500 = "Exception encountered while processing the request, please retry again."
FINAL_500 = "Exception encountered while processing the request"
CASES: list[tuple[int, dict[str, str], type[sdk.ApiError]]] = [
    (400, {"message": "Invalid request body"}, sdk.InvalidRequestBody),
    (
        400,
        {"errorMsg": "One or more StoreID's present in the request is incorrect"},
        sdk.UnknownStores,
    ),
    (
        400,
        {
            "errorMsg": "List of store ID's present in the request are either "
            "incorrect/not associated with same retailer"
        },
        sdk.MixedStores,
    ),
    (
        400,
        {"errorMsg": "allApplicableStores must list every store of the retailer: s-1,s-2"},
        sdk.ArchiveStoresMismatch,
    ),
    (400, {"errorMsg": "API invoked with Invalid parameter"}, sdk.UnknownIngestion),
    (
        400,
        {"errorMsg": "Idempotency-Key was already used with a different request body"},
        sdk.IdempotencyKeyReused,
    ),
    (400, {"errorMsg": "Something new"}, sdk.BadRequest),
    (403, {"message": "Missing Authentication Token"}, sdk.MissingAuthenticationToken),
    (
        403,
        {"message": "The security token included in the request is invalid."},
        sdk.InvalidSecurityToken,
    ),
    (
        403,
        {
            "message": "The request signature we calculated does not match the signature you "
            "provided. Check your AWS Secret Access Key and signing method. Consult the "
            "service documentation for details."
        },
        sdk.SignatureMismatch,
    ),
    (
        403,
        {
            "message": "Signature expired: 20260101T000000Z is now earlier than "
            "20260101T000500Z (20260101T001000Z - 5 min.)"
        },
        sdk.SignatureExpired,
    ),
    (
        403,
        {
            "message": "User: AKID is not authorized to perform: execute-api:Invoke on "
            "resource: /v1/catalog/upload"
        },
        sdk.NotAuthorized,
    ),
    (
        403,
        {"message": "Credential should be scoped to a valid region, not 'eu-west-1'. "},
        sdk.CredentialScopeMismatch,
    ),
    (403, {"message": "Forbidden"}, sdk.AuthError),
    (
        409,
        {"errorMsg": "Catalog upload is DONE and can no longer be cancelled"},
        sdk.UploadNotCancellable,
    ),
    (413, {"message": "Request Entity Too Large"}, sdk.RequestTooLarge),
    (429, {"message": "Too Many Requests"}, sdk.Throttled),
    (500, {"errorMsg": RETRY_500}, sdk.RetryableServerError),
    (500, {"errorMsg": FINAL_500}, sdk.ServerError),
    (502, {"message": "Bad Gateway"}, sdk.UnexpectedResponse),
    (404, {"message": "Not Found"}, sdk.UnexpectedResponse),
]


@pytest.mark.parametrize(("status", "body", "expected"), CASES)
def test_each_contract_answer_maps_to_its_exception(
    status: int, body: dict[str, str], expected: type[sdk.ApiError]
) -> None:
    api = FakeApi(reply(status, body, {"x-amzn-RequestId": "req-42"}))
    with pytest.raises(expected) as info:
        make_client(api, max_attempts=1).upload([ITEM])
    error = info.value
    assert type(error) is expected
    assert (error.status_code, error.body, error.request_id) == (status, body, "req-42")
    assert isinstance(error, sdk.CatalogClientError) and isinstance(error, CatalogIngestError)
    assert "req-42" in str(error) and f"HTTP {status}" in str(error)


def test_error_details_are_parsed() -> None:
    api = FakeApi(
        reply(409, {"errorMsg": "Catalog upload is INPROGRESS and can no longer be cancelled"}),
        reply(400, {"errorMsg": "allApplicableStores must list every store of the retailer: a,b"}),
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "7"}),
    )
    client = make_client(api, max_attempts=1)
    with pytest.raises(sdk.UploadNotCancellable) as cancelled:
        client.cancel("id-1")
    assert cancelled.value.processing_status == "INPROGRESS"
    with pytest.raises(sdk.ArchiveStoresMismatch) as stores:
        client.archive(["A-1"], ["a"])
    assert stores.value.store_ids == ["a", "b"]
    with pytest.raises(sdk.Throttled) as throttled:
        client.get_status("id-1")
    assert throttled.value.retry_after == 7.0


def test_non_json_error_body_is_kept_as_text() -> None:
    api = FakeApi(reply(502, b"<html>bad gateway</html>"))
    with pytest.raises(sdk.UnexpectedResponse) as info:
        make_client(api).get_status("id-1")
    assert info.value.body == "<html>bad gateway</html>"
    assert len(api.requests) == 1


def test_unreadable_success_body_is_unexpected_response() -> None:
    api = FakeApi(reply(201, b"not json"), reply(200, {"processingStatus": 5}))
    client = make_client(api)
    with pytest.raises(sdk.UnexpectedResponse):
        client.upload([ITEM])
    with pytest.raises(sdk.UnexpectedResponse):
        client.get_status("id-1")


# --- retries -------------------------------------------------------------------------------


def test_throttled_calls_are_retried_honouring_retry_after() -> None:
    api = FakeApi(
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "3"}),
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "2"}),
        reply(201, {"ingestionId": "id-1"}),
    )
    fake = FakeTime()
    accepted = make_client(api, fake, jitter=lambda: 0.0).upload([ITEM])
    assert accepted.ingestion_id == "id-1"
    assert fake.sleeps == [3.0, 2.0]


def test_backoff_wins_over_a_shorter_retry_after() -> None:
    api = FakeApi(
        reply(429, {"message": "Too Many Requests"}, {"Retry-After": "0"}),
        reply(201, {"ingestionId": "id-1"}),
    )
    fake = FakeTime()
    make_client(api, fake, jitter=lambda: 1.0).upload([ITEM])
    assert fake.sleeps == [0.5]


def test_retryable_500_is_retried_with_exponential_backoff() -> None:
    api = FakeApi(
        reply(500, {"errorMsg": RETRY_500}),
        reply(500, {"errorMsg": RETRY_500}),
        reply(500, {"errorMsg": RETRY_500}),
        reply(200, {"processingStatus": "DONE", "reportDownloadLink": ""}),
    )
    fake = FakeTime()
    status = make_client(api, fake).get_status("id-1")
    assert status.processing_status == "DONE"
    assert fake.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadError("reset"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("closed"),
    ],
)
def test_connection_failures_are_retried(failure: Exception) -> None:
    api = FakeApi(failure, reply(201, {"ingestionId": "id-1"}))
    fake = FakeTime()
    assert make_client(api, fake).upload([ITEM]).ingestion_id == "id-1"
    assert len(api.requests) == 2 and fake.sleeps == [0.5]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    api = FakeApi(default=reply(429, {"message": "Too Many Requests"}, {"Retry-After": "1"}))
    fake = FakeTime()
    with pytest.raises(sdk.Throttled) as info:
        make_client(api, fake, max_attempts=3).upload([ITEM])
    assert info.value.attempts == 3 and "after 3 attempts" in str(info.value)
    assert len(api.requests) == 3 and len(fake.sleeps) == 2


def test_connection_failures_exhausted_raise_connection_failed() -> None:
    api = FakeApi(default=httpx.ConnectError("refused"))
    with pytest.raises(sdk.ConnectionFailed) as info:
        make_client(api, max_attempts=2).get_status("id-1")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.status_code is None and len(api.requests) == 2


def test_a_bad_request_transport_error_is_not_retried() -> None:
    api = FakeApi(default=httpx.UnsupportedProtocol("no"))
    with pytest.raises(sdk.CatalogClientError) as info:
        make_client(api).get_status("id-1")
    assert not isinstance(info.value, sdk.ConnectionFailed) and len(api.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"errorMsg": FINAL_500}),
        (400, {"message": "Invalid request body"}),
        (400, {"errorMsg": "One or more StoreID's present in the request is incorrect"}),
        (403, {"message": "Missing Authentication Token"}),
        (403, {"message": "The security token included in the request is invalid."}),
        (409, {"errorMsg": "Catalog upload is DONE and can no longer be cancelled"}),
        (413, {"message": "Request Entity Too Large"}),
        (503, {"message": "Service Unavailable"}),
    ],
)
def test_other_failures_are_never_retried(status: int, body: dict[str, str]) -> None:
    api = FakeApi(default=reply(status, body))
    fake = FakeTime()
    with pytest.raises(sdk.ApiError):
        make_client(api, fake).upload([ITEM])
    assert len(api.requests) == 1 and fake.sleeps == []


def test_retry_policy_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base=1.0, cap=8.0)
    assert [policy.backoff(n, 1.0) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert policy.backoff(3, 0.25) == 1.0 and policy.backoff(3, 0.0) == 0.0
    assert policy.backoff(10_000, 1.0) == 8.0
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0 and parse_retry_after("inf") is None
    now = time.time()
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert 28 <= (parse_retry_after(date, now) or 0) <= 31


# --- results tolerate unknown attributes ---------------------------------------------------

WIRE_ITEM = {
    **ITEM,
    "external_product_id_type": "EAN",
    "additional_external_product_information": [
        {"external_product_id": "012345678905", "future": 1}
    ],
    "standard_price": "4.99",
    "status": "ACTIVE",
    "updatedAt": "2026-11-22T10:00:00.000Z",
    "ingestionId": "id-1",
    "color": "red",
    "extra": "not the SDK's field",
}


def test_unknown_attributes_are_tolerated_everywhere() -> None:
    api = FakeApi(
        reply(201, {"ingestionId": "id-1", "new": True}),
        reply(200, {"processingStatus": "DONE", "reportDownloadLink": "https://r", "eta": 0}),
        reply(200, {"catalogItems": [WIRE_ITEM], "more": []}),
    )
    client = make_client(api)
    assert client.upload([ITEM]).ingestion_id == "id-1"
    status = client.get_status("id-1")
    assert status.terminal and status.report_url == "https://r"
    (item,) = client.get_items("store-01", ["A-1"])
    assert item.updated_at == "2026-11-22T10:00:00.000Z" and item.ingestion_id == "id-1"
    assert item.extra == {"color": "red", "extra": "not the SDK's field"}
    assert item.additional_external_product_information[0].external_product_id_type is None


def test_catalog_item_converts_back_to_an_upload_item() -> None:
    item = sdk.CatalogItem.from_wire(WIRE_ITEM)
    assert item.to_upload_item() == {
        **ITEM,
        "external_product_id_type": "EAN",
        "additional_external_product_information": [{"external_product_id": "012345678905"}],
        "standard_price": "4.99",
    }
    with pytest.raises(msgspec.ValidationError):
        sdk.CatalogItem.from_wire(["not", "an", "object"])


def test_status_without_report_link() -> None:
    api = FakeApi(reply(200, {"processingStatus": "INQUEUE", "reportDownloadLink": ""}))
    status = make_client(api).get_status("id-1")
    assert not status.terminal and status.report_url is None
    assert api.bodies() == [{"ingestionId": "id-1"}]


# --- the other endpoints -------------------------------------------------------------------


def test_archive_request() -> None:
    api = FakeApi(reply(201, {"ingestionId": "id-2"}))
    accepted = make_client(api).archive(["A-1", "A-2"], ["s-1"], idempotency_key="k")
    assert accepted.ingestion_id == "id-2"
    assert api.bodies() == [{"itemSkus": ["A-1", "A-2"], "allApplicableStores": ["s-1"]}]
    assert api.requests[0].url.path == "/v1/catalog/archive"


def test_cancel_answers_cancelled_also_when_it_already_was() -> None:
    api = FakeApi(
        reply(200, {"processingStatus": "CANCELLED"}),
        reply(409, {"errorMsg": "Catalog upload is CANCELLED and can no longer be cancelled"}),
    )
    client = make_client(api)
    assert client.cancel("id-1") == "CANCELLED"
    assert client.cancel("id-1") == "CANCELLED"
    assert api.requests[0].url.path == "/v1/catalog/cancelCatalogUpload"


def test_list_uploads_sends_only_given_parameters_and_pages() -> None:
    upload = {"ingestionId": "u", "processingStatus": "DONE", "itemCount": 3, "storeIds": ["s"]}
    api = FakeApi(
        reply(200, {"catalogUploads": [upload], "nextToken": "t1"}),
        reply(200, {"catalogUploads": [upload, {**upload, "ingestionId": "v"}]}),
    )
    client = make_client(api)
    first = client.list_uploads(max_results=1)
    assert first.next_token == "t1" and first.catalog_uploads[0].store_ids == ["s"]
    assert first.catalog_uploads[0].item_count == 3
    assert client.list_uploads(next_token="t1", processing_status="DONE").next_token is None
    assert api.bodies() == [
        {"maxResults": 1},
        {"nextToken": "t1", "processingStatus": "DONE"},
    ]


def test_iter_uploads_follows_next_token() -> None:
    def page(ids: list[str], token: str | None) -> httpx.Response:
        uploads = [{"ingestionId": i, "processingStatus": "DONE"} for i in ids]
        return reply(200, {"catalogUploads": uploads, **({"nextToken": token} if token else {})})

    api = FakeApi(page(["a", "b"], "t1"), page(["c"], "t2"), page([], None))
    ids = [u.ingestion_id for u in make_client(api).iter_uploads(page_size=2)]
    assert ids == ["a", "b", "c"]
    assert api.bodies() == [
        {"maxResults": 2},
        {"maxResults": 2, "nextToken": "t1"},
        {"maxResults": 2, "nextToken": "t2"},
    ]


def test_iter_items_follows_next_token_and_stops_on_a_repeated_token() -> None:
    item = {**ITEM, "status": "ACTIVE"}
    api = FakeApi(
        reply(200, {"catalogItems": [item], "nextToken": "t1"}),
        reply(200, {"catalogItems": [{**item, "item_sku": "A-2"}], "nextToken": "t1"}),
    )
    skus = [i.item_sku for i in make_client(api).iter_items("store-01")]
    assert skus == ["A-1", "A-2"]
    assert api.bodies() == [{"store_id": "store-01"}, {"store_id": "store-01", "nextToken": "t1"}]


def test_get_items_asks_in_chunks_of_100() -> None:
    api = FakeApi(default=reply(200, {"catalogItems": [ITEM]}))
    items = make_client(api).get_items("store-01", [f"S{i}" for i in range(250)])
    assert len(items) == 3
    assert [len(b["item_skus"]) for b in api.bodies()] == [100, 100, 50]
    assert make_client(FakeApi()).get_items("store-01", []) == []


def test_list_items_page() -> None:
    api = FakeApi(reply(200, {"catalogItems": [ITEM], "nextToken": "n"}))
    page = make_client(api).list_items("store-01", max_results=1)
    assert page.next_token == "n" and page.catalog_items[0].item_sku == "A-1"
    assert api.bodies() == [{"store_id": "store-01", "maxResults": 1}]


def test_lookup_barcode_found_and_not_found() -> None:
    api = FakeApi(
        reply(200, {"catalogItem": {**ITEM, "status": "ACTIVE"}}),
        reply(404, {"errorMsg": "No catalog item has this barcode in this store"}),
        reply(404, {"detail": "Not Found"}),
    )
    client = make_client(api)
    item = client.lookup_barcode("store-01", "4006381333931")
    assert item is not None and item.item_sku == "A-1" and item.active
    assert client.lookup_barcode("store-01", "0000") is None
    with pytest.raises(sdk.UnexpectedResponse):
        client.lookup_barcode("store-01", "0000")
    assert api.bodies()[0] == {"store_id": "store-01", "external_product_id": "4006381333931"}


REPORT_URL = "https://reports.example.net/reports/id-1/report.json?expires=1&sig=abc"


def test_download_report_is_an_unsigned_get() -> None:
    report = {"ingestionId": "id-1", "summary": {"itemsReceived": 1}, "itemResults": []}
    api = FakeApi(reply(200, report))
    assert make_client(api).download_report(REPORT_URL) == report
    (request,) = api.requests
    assert request.method == "GET" and str(request.url) == REPORT_URL
    assert "authorization" not in request.headers and "x-amz-date" not in request.headers


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "Request has expired"}, sdk.ReportLinkExpired),
        ({"message": "Link expired at 2026-11-22T10:00:00Z"}, sdk.ReportLinkExpired),
        (
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            sdk.ReportLinkExpired,
        ),
        ({"message": "The link is invalid"}, sdk.ReportLinkInvalid),
        (b"", sdk.ReportLinkInvalid),
    ],
)
def test_report_link_refusals(body: Any, expected: type[sdk.ReportLinkError]) -> None:
    api = FakeApi(default=reply(403, body))
    with pytest.raises(expected) as info:
        make_client(api).download_report(REPORT_URL)
    assert info.value.status_code == 403 and len(api.requests) == 1


def test_download_report_needs_a_link() -> None:
    with pytest.raises(ValueError):
        make_client(FakeApi()).download_report("")


def test_endpoint_must_be_a_url() -> None:
    with pytest.raises(ValueError):
        sdk.CatalogClient("catalog.example.com", access_key=KEY, secret_key=SECRET)


# --- the rate limiter ----------------------------------------------------------------------


def assert_within_rate(slots: list[float], max_calls: int, period: float = 1.0) -> None:
    """No half-open window of ``period`` seconds holds more than ``max_calls`` slots."""
    ordered = sorted(slots)
    for i in range(max_calls, len(ordered)):
        assert ordered[i] - ordered[i - max_calls] >= period - 1e-9, (i, ordered)


def test_limiter_keeps_threads_within_the_rate() -> None:
    fake = FakeTime()
    limiter = sdk.RateLimiter.per_second(10, clock=fake.clock)
    slots: list[float] = []
    late: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            slot = limiter.acquire(fake.sleep)
            with lock:
                slots.append(slot)
                late.append(fake.clock() - slot)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slots) == 200
    assert_within_rate(slots, 10)
    assert min(late) >= 0  # nobody went before its slot


def test_limiter_is_shared_by_all_calls_of_a_client_across_threads() -> None:
    fake = FakeTime()
    granted: list[float] = []

    class Recording(sdk.RateLimiter):
        def acquire(self, sleep: Callable[[float], object] = time.sleep) -> float:
            slot = super().acquire(sleep)
            granted.append(slot)
            return slot

    limiter = Recording(10, clock=fake.clock)
    script = [reply(500, {"errorMsg": RETRY_500}) for _ in range(5)]
    api = FakeApi(*script, default=reply(200, {"processingStatus": "DONE"}))
    client = make_client(api, fake, limiter=limiter, max_attempts=10)
    threads = [
        threading.Thread(target=lambda: [client.get_status("x") for _ in range(10)])
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(api.requests) == 65 and len(granted) == 65  # retries are counted too
    assert_within_rate(granted, 10)
    assert client.limiter is limiter


def test_a_client_paces_its_calls_at_the_configured_rate() -> None:
    fake = FakeTime()
    seen: list[float] = []
    api = FakeApi(default=reply(200, {"processingStatus": "DONE"}))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(fake.clock())  # one thread: the clock cannot move under us
        return api(request)

    client = make_client(api, fake, rate_limit=4, transport=httpx.MockTransport(handler))
    for _ in range(14):
        client.get_status("x")
    assert_within_rate(seen, 4)
    assert seen[-1] - seen[0] == pytest.approx(3.0)  # 14 calls at 4/s: 3 full windows


def test_rate_limit_none_disables_the_limiter() -> None:
    assert make_client(FakeApi(), rate_limit=None).limiter is None


def test_fractional_and_invalid_rates() -> None:
    assert (sdk.RateLimiter.per_second(2.5).max_calls, sdk.RateLimiter.per_second(2.5).period) == (
        2,
        1.0,
    )
    slow = sdk.RateLimiter.per_second(0.5)
    assert (slow.max_calls, slow.period) == (1, 2.0)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            sdk.RateLimiter.per_second(bad)


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=60),
    max_calls=st.integers(min_value=1, max_value=7),
    period=st.floats(min_value=0.01, max_value=2),
)
def test_limiter_slots_respect_the_window_whatever_the_arrivals(
    arrivals: list[float], max_calls: int, period: float
) -> None:
    now = [0.0]
    limiter = sdk.RateLimiter(max_calls, period, clock=lambda: now[0])
    slots = []
    for arrival in sorted(arrivals):
        now[0] = max(now[0], arrival)
        slot = limiter.reserve()
        assert slot >= now[0]
        slots.append(slot)
    assert slots == sorted(slots)
    assert_within_rate(slots, max_calls, period)


# --- the public surface --------------------------------------------------------------------


def test_exception_tree() -> None:
    assert issubclass(sdk.CatalogClientError, CatalogIngestError)
    assert issubclass(sdk.UnknownStores, sdk.InvalidStores)
    assert issubclass(sdk.InvalidStores, sdk.BadRequest)
    assert issubclass(sdk.RetryableServerError, sdk.ServerError)
    assert issubclass(sdk.ReportLinkExpired, sdk.ApiError)
    exported = [getattr(sdk, name) for name in sdk.__all__]
    retryable = {
        c
        for c in exported
        if isinstance(c, type) and issubclass(c, sdk.CatalogClientError) and c.retryable
    }
    assert retryable == {sdk.Throttled, sdk.RetryableServerError, sdk.ConnectionFailed}


def test_public_names_resolve() -> None:
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None
    assert proto.MAX_SKUS_PER_GET == 100


def test_close_closes_the_http_client() -> None:
    client = make_client(FakeApi())
    client.close()
    with pytest.raises(RuntimeError):
        client.get_status("x")


def test_the_sync_retry_hook_hears_every_attempt() -> None:
    api = FakeApi(reply(429, {"message": "Too Many Requests"}, {"Retry-After": "2"}),
                  reply(201, {"ingestionId": "id-1"}))
    heard: list[tuple[int, str | None, float | None]] = []
    client = make_client(api, retry_policy=sdk.RetryPolicy(
        on_attempt=lambda n, error, delay: heard.append(
            (n, type(error).__name__ if error else None, delay))))
    client.upload([ITEM])
    assert heard == [(1, "Throttled", 2.0), (2, None, None)]
