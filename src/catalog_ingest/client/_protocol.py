"""Everything the sync and async clients share but I/O: requests, answers, errors, retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from catalog_ingest import __version__
from catalog_ingest.client import _exceptions as exc
from catalog_ingest.client._auth import SigV4Signer
from catalog_ingest.client._models import (
    CancelResult,
    CatalogItem,
    ItemPage,
    UploadAccepted,
    UploadPage,
    UploadStatus,
)
from catalog_ingest.client._retry import parse_retry_after

T = TypeVar("T")

API_PREFIX = "/v1/catalog/"
USER_AGENT = f"catalog-ingest/{__version__}"
MAX_SKUS_PER_GET = 100
REQUEST_ID_HEADER = "x-amzn-RequestId"
#: httpx failures after which the request may be sent again (the answer may have been lost).
RETRYABLE_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API operation: what to send, and how to read the answer (or raise).

    ``path`` is under the client's endpoint, or an absolute URL for an unsigned call.
    """

    path: str
    body: bytes | None
    parse: Callable[[httpx.Response], T]
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    signed: bool = True


class Protocol:
    """Builds signed httpx requests for one endpoint; shared by both clients."""

    def __init__(self, endpoint: str, signer: SigV4Signer) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        self.base = endpoint.rstrip("/")
        self.signer = signer

    def request(self, call: Call[Any], *, sign: bool = True) -> httpx.Request:
        """The httpx request for ``call``, signed unless ``sign`` is false (see sign_may_block)."""
        url = call.path if not call.signed else self.base + call.path
        headers = {"accept": "application/json", "user-agent": USER_AGENT, **call.headers}
        if call.body is not None:
            headers["content-type"] = "application/json"
        request = httpx.Request(call.method, url, content=call.body, headers=headers)
        if call.signed and sign:
            self.signer.sign(request)
        return request

    def sign_may_block(self, call: Call[Any]) -> bool:
        """True when signing ``call`` now would refresh credentials (I/O an event loop avoids)."""
        return call.signed and self.signer.refresh_due()


def transport_failure(error: httpx.TransportError) -> exc.CatalogClientError:
    """The SDK error for an httpx failure; retryable unless the request itself was bad."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, RETRYABLE_TRANSPORT_ERRORS):
        return exc.ConnectionFailed(text)
    return exc.CatalogClientError(text)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


# --- answers -------------------------------------------------------------------------------


def decode_body(response: httpx.Response) -> Any:
    """The answer's JSON, else its text (or None when empty)."""
    if not response.content:
        return None
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.text


def body_message(body: Any) -> str:
    """The contract's error text: ``message`` or ``errorMsg`` of a JSON object."""
    if isinstance(body, dict):
        for key in ("message", "errorMsg", "Message"):
            value = body.get(key)
            if isinstance(value, str):
                return value
    return body if isinstance(body, str) else ""


def _common(response: httpx.Response, body: Any) -> dict[str, Any]:
    return {
        "status_code": response.status_code,
        "body": body,
        "request_id": response.headers.get(REQUEST_ID_HEADER),
    }


_BAD_REQUESTS: tuple[tuple[str, type[exc.BadRequest]], ...] = (
    ("invalid request body", exc.InvalidRequestBody),
    ("present in the request is incorrect", exc.UnknownStores),
    ("not associated with same retailer", exc.MixedStores),
    ("allapplicablestores must list every store", exc.ArchiveStoresMismatch),
    ("invoked with invalid parameter", exc.UnknownIngestion),
    ("idempotency-key was already used", exc.IdempotencyKeyReused),
)
_AUTH_ERRORS: tuple[tuple[str, type[exc.AuthError]], ...] = (
    ("missing authentication token", exc.MissingAuthenticationToken),
    ("the security token included in the request is", exc.InvalidSecurityToken),
    ("signature we calculated does not match", exc.SignatureMismatch),
    ("signature expired", exc.SignatureExpired),
    ("credential should be scoped", exc.CredentialScopeMismatch),
    ("is not authorized to perform", exc.NotAuthorized),
)
_BY_STATUS: dict[int, type[exc.ApiError]] = {
    409: exc.UploadNotCancellable,
    413: exc.RequestTooLarge,
}


def _classify(status: int, message: str) -> type[exc.ApiError]:
    lowered = message.lower()
    if status == 400:
        return next((c for text, c in _BAD_REQUESTS if text in lowered), exc.BadRequest)
    if status == 403:
        return next((c for text, c in _AUTH_ERRORS if text in lowered), exc.AuthError)
    if status == 500:
        return exc.RetryableServerError if "please retry" in lowered else exc.ServerError
    return _BY_STATUS.get(status, exc.UnexpectedResponse)


def error_for(response: httpx.Response) -> exc.ApiError:
    """The exception the contract defines for a failed answer."""
    body = decode_body(response)
    message = body_message(body)
    common = _common(response, body)
    if response.status_code == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return exc.Throttled(message or "Too Many Requests", retry_after=retry_after, **common)
    cls = _classify(response.status_code, message)
    return cls(message or response.reason_phrase, **common)


def unexpected(response: httpx.Response, why: str) -> exc.UnexpectedResponse:
    return exc.UnexpectedResponse(why, **_common(response, decode_body(response)))


def _expect(response: httpx.Response, status: int, decode: Callable[[Any], T]) -> T:
    """The decoded success body, or the contract's error for the answer."""
    if response.status_code != status:
        raise error_for(response)
    try:
        return decode(msgspec.json.decode(response.content))
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as error:
        raise unexpected(response, f"unreadable {status} answer: {error}") from error


def _struct(cls: type[T]) -> Callable[[Any], T]:
    return lambda obj: msgspec.convert(obj, cls)


# --- operations ----------------------------------------------------------------------------


def _post(path: str, payload: Any, parse: Callable[[httpx.Response], T], **kw: Any) -> Call[T]:
    return Call(API_PREFIX + path, _json.encode(payload), parse, **kw)


def _accepted(response: httpx.Response) -> UploadAccepted:
    return _expect(response, 201, _struct(UploadAccepted))


def upload_raw(body: bytes, idempotency_key: str) -> Call[UploadAccepted]:
    """POST /upload with an already JSON-encoded ``{"catalogItems": [...]}`` body."""
    headers = {"idempotency-key": idempotency_key}
    return Call(API_PREFIX + "upload", body, _accepted, headers=headers)


def encode_upload(items: Sequence[Mapping[str, Any]]) -> bytes:
    return _json.encode({"catalogItems": [dict(item) for item in items]})


def get_status(ingestion_id: str) -> Call[UploadStatus]:
    parse = _struct(UploadStatus)
    return _post(
        "getCatalogUploadStatus", {"ingestionId": ingestion_id}, lambda r: _expect(r, 200, parse)
    )


def archive(
    item_skus: Sequence[str], stores: Sequence[str], idempotency_key: str
) -> Call[UploadAccepted]:
    payload = {"itemSkus": list(item_skus), "allApplicableStores": list(stores)}
    return _post("archive", payload, _accepted, headers={"idempotency-key": idempotency_key})


def _cancelled(response: httpx.Response) -> str:
    if response.status_code == 409:
        error = error_for(response)
        if isinstance(error, exc.UploadNotCancellable) and error.processing_status == "CANCELLED":
            return "CANCELLED"  # already cancelled, e.g. by a retry whose first answer was lost
        raise error
    return _expect(response, 200, _struct(CancelResult)).processing_status


def cancel(ingestion_id: str) -> Call[str]:
    return _post("cancelCatalogUpload", {"ingestionId": ingestion_id}, _cancelled)


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def list_uploads(
    max_results: int | None, next_token: str | None, processing_status: str | None
) -> Call[UploadPage]:
    payload = _drop_none(
        {"maxResults": max_results, "nextToken": next_token, "processingStatus": processing_status}
    )
    parse = _struct(UploadPage)
    return _post("listCatalogUploads", payload, lambda r: _expect(r, 200, parse))


def _object(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise msgspec.ValidationError("expected a JSON object")
    return obj


def _items(obj: Any) -> list[CatalogItem]:
    raw = _object(obj).get("catalogItems")
    if not isinstance(raw, list):
        raise msgspec.ValidationError("expected catalogItems to be an array")
    return [CatalogItem.from_wire(entry) for entry in raw]


def _item_page(obj: Any) -> ItemPage:
    token = _object(obj).get("nextToken")
    if token is not None and not isinstance(token, str):
        raise msgspec.ValidationError("expected nextToken to be a string")
    return ItemPage(_items(obj), token or None)


def sku_chunks(item_skus: Sequence[str]) -> Iterator[list[str]]:
    """getCatalogItems takes at most 100 SKUs; longer lists are asked for in chunks."""
    skus = list(item_skus)
    for start in range(0, len(skus), MAX_SKUS_PER_GET):
        yield skus[start : start + MAX_SKUS_PER_GET]


def get_items(store_id: str, item_skus: list[str]) -> Call[list[CatalogItem]]:
    payload = {"store_id": store_id, "item_skus": item_skus}
    return _post("getCatalogItems", payload, lambda r: _expect(r, 200, _items))


def list_items(store_id: str, max_results: int | None, next_token: str | None) -> Call[ItemPage]:
    payload = _drop_none({"store_id": store_id, "maxResults": max_results, "nextToken": next_token})
    return _post("listCatalogItems", payload, lambda r: _expect(r, 200, _item_page))


def _found(response: httpx.Response) -> CatalogItem | None:
    if response.status_code == 404:
        message = body_message(decode_body(response)).lower()
        if "barcode" in message or "catalog item" in message:
            return None  # the contract's "No catalog item has this barcode in this store"
        raise unexpected(response, "404 without the contract's message: is the endpoint right?")
    return _expect(response, 200, lambda obj: CatalogItem.from_wire(_object(obj)["catalogItem"]))


def lookup_barcode(store_id: str, external_product_id: str) -> Call[CatalogItem | None]:
    payload = {"store_id": store_id, "external_product_id": external_product_id}
    return _post("lookupBarcode", payload, _found)


def _report(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 403:
        body = decode_body(response)
        message = body_message(body) or response.text
        cls = exc.ReportLinkExpired if "expired" in message.lower() else exc.ReportLinkInvalid
        raise cls(message or "Forbidden", **_common(response, body))
    report = _expect(response, 200, lambda obj: obj)
    if not isinstance(report, dict):
        raise unexpected(response, "the report is not a JSON object")
    return report


def download_report(url: str) -> Call[dict[str, Any]]:
    """GET a pre-signed report link: the link is the credential, so nothing is signed."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not a report link: {url!r}")
    return Call(url, None, _report, method="GET", signed=False)


def next_page_token(previous: str | None, current: str | None) -> str | None:
    """The token to ask for next, or None when done (a repeated token ends the loop too)."""
    if not current or current == previous:
        return None
    return current
