"""The retailer SDK's exception tree, one class per answer the Catalog API contract defines.

    CatalogIngestError                      (catalog_ingest.errors)
    └── CatalogClientError                  root of everything the SDK raises on purpose (raised
                                            as such when httpx cannot send, e.g. a bad proxy)
        ├── CredentialsNotFound             no credentials found (also a ConfigurationError)
        ├── ConnectionFailed                no answer: connect/read error or timeout (retryable)
        └── ApiError                        an HTTP answer that is not a success
            ├── BadRequest                  400 not matched below
            │   ├── InvalidRequestBody      400 {"message": "Invalid request body"}
            │   ├── InvalidStores           400 about the request's store ids
            │   │   ├── UnknownStores       "One or more StoreID's ... is incorrect"
            │   │   ├── MixedStores         "List of store ID's ... not associated with same ..."
            │   │   └── ArchiveStoresMismatch  "allApplicableStores must list every store ..."
            │   ├── UnknownIngestion        "API invoked with Invalid parameter"
            │   └── IdempotencyKeyReused    same Idempotency-Key, different body
            ├── AuthError                   403 from the API
            │   ├── MissingAuthenticationToken
            │   ├── InvalidSecurityToken    unknown, revoked (or expired session) access key
            │   ├── SignatureMismatch
            │   ├── SignatureExpired        x-amz-date too far from the server clock
            │   ├── CredentialScopeMismatch signed for another region or service
            │   └── NotAuthorized           key valid, retailer not allowed
            ├── ReportLinkError             403 from a pre-signed report link
            │   ├── ReportLinkExpired
            │   └── ReportLinkInvalid
            ├── UploadNotCancellable        409, the upload left INQUEUE
            ├── RequestTooLarge             413
            ├── Throttled                   429 (retryable; ``retry_after`` seconds)
            ├── ServerError                 500 "Exception encountered ..." (not retryable)
            │   └── RetryableServerError    500 "..., please retry again." (retryable)
            └── UnexpectedResponse          any other status, or a success the SDK cannot read

Every exception carries ``status_code``, ``body`` (parsed JSON, else text), ``request_id``
(the ``x-amzn-RequestId`` header) and ``attempts``; these are ``None`` (1) when no HTTP
answer was received. ``retryable`` says whether the SDK retries it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from catalog_ingest.errors import CatalogIngestError, ConfigurationError


class CatalogClientError(CatalogIngestError):
    """Root of every error the retailer SDK raises on purpose."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.attempts = 1

    def __str__(self) -> str:
        parts = [self.message or type(self).__name__]
        if self.status_code is not None:
            parts.insert(0, f"HTTP {self.status_code}:")
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        return " ".join(parts)


class CredentialsNotFound(CatalogClientError, ConfigurationError):
    """No explicit credentials were given and the botocore chain found none."""


class ConnectionFailed(CatalogClientError):
    """The request got no answer (connection refused or reset, timeout); retried."""

    retryable = True


class ApiError(CatalogClientError):
    """An HTTP answer that is not a success; ``status_code`` is always set."""

    status_code: int


class BadRequest(ApiError):
    """400 that matches none of the contract's specific messages."""


class InvalidRequestBody(BadRequest):
    """400 {"message": "Invalid request body"}: the request model was refused."""


class InvalidStores(BadRequest):
    """400 about the store ids of the request."""


class UnknownStores(InvalidStores):
    """None of the request's stores exists for this retailer."""


class MixedStores(InvalidStores):
    """Some stores exist and some do not, or they belong to more than one retailer."""


class ArchiveStoresMismatch(InvalidStores):
    """An archive's ``allApplicableStores`` is not exactly the retailer's stores."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        _, _, tail = message.partition(":")
        #: The retailer's stores, as the service listed them.
        self.store_ids = [s.strip() for s in tail.split(",") if s.strip()]


class UnknownIngestion(BadRequest):
    """400 "API invoked with Invalid parameter": no such upload for this retailer."""


class IdempotencyKeyReused(BadRequest):
    """The Idempotency-Key was already used with a different request body."""


class AuthError(ApiError):
    """403 from the API: the request's credentials or signature do not hold."""


class MissingAuthenticationToken(AuthError):
    """The request carried no Authorization header."""


class InvalidSecurityToken(AuthError):
    """The access key id is unknown or revoked (or the session token expired)."""


class SignatureMismatch(AuthError):
    """The signature does not match: wrong secret key or signing method."""


class SignatureExpired(AuthError):
    """x-amz-date is more than 5 minutes from the server clock: check the local clock."""


class CredentialScopeMismatch(AuthError):
    """The signature's scope names another region or service: check ``region``/AWS_REGION."""


class NotAuthorized(AuthError):
    """The key is valid but its retailer may not invoke the API."""


class ReportLinkError(ApiError):
    """403 from a pre-signed report link."""


class ReportLinkExpired(ReportLinkError):
    """The link's validity ended: ask getCatalogUploadStatus for a fresh one."""


class ReportLinkInvalid(ReportLinkError):
    """The link's signature, path or expiry was altered."""


_NOT_CANCELLABLE = re.compile(r"is (\w+) and can no longer be cancelled")


class UploadNotCancellable(ApiError):
    """409: the upload is no longer INQUEUE; ``processing_status`` says what it is."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        match = _NOT_CANCELLABLE.search(message)
        self.processing_status: str | None = match.group(1) if match else None


class RequestTooLarge(ApiError):
    """413: the body is over the service's limit (10 MiB by default); split the upload."""


class Throttled(ApiError):
    """429: over the retailer's request rate; ``retry_after`` is the server's hint."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """500 after which the service says retrying will not help."""


class RetryableServerError(ServerError):
    """500 "..., please retry again.": a transient failure; retried."""

    retryable = True


class UnexpectedResponse(ApiError):
    """A status the contract does not define, or a success body the SDK cannot read."""
