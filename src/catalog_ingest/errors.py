"""The one exception root of catalog-ingest and the tree below it.

    CatalogIngestError
    ├── ConfigurationError          bad settings; the process cannot start
    ├── NotFound                    a resource the caller may not see or that does not exist
    │   └── UnknownIngestion        an ingestion id unknown to the caller's retailer
    ├── Conflict                    the resource is in a state that forbids the action
    │   └── NotCancellable          the upload is no longer INQUEUE
    ├── InvalidInput                input that breaks the contract (the message says how)
    │   ├── InvalidRequest          a body or header that breaks the request model
    │   ├── RequestTooLarge         a body over the configured limit (refused unread)
    │   ├── UnknownStores           none of the request's stores is the caller's
    │   ├── MixedStores             some are and some are not
    │   ├── IdempotencyMismatch     an Idempotency-Key reused with another body
    │   ├── IncompleteStoreList     archive's allApplicableStores is not every store
    │   └── InvalidPageToken        a nextToken that this service did not issue for the caller
    ├── Throttled                   over the retailer's request rate (``retry_after`` seconds)
    ├── TransientError              may succeed if retried (database or blob store unreachable)
    ├── AuthenticationFailed        a request or link whose credentials do not hold (403)
    ├── MerchantCenterError         an answer of the Merchant-Center resource (``code``)
    └── BlobNotFound                a payload or report is missing from the blob store

The service layer raises these and nothing else on purpose. Each skin turns them into its
answers in one place: ``catalog_ingest.api.errors`` (one renderer each for the JWO API, the
Merchant-Center resource and the SNS routes, chosen by route) and
``catalog_ingest.portal.errors`` (HTML). The retailer toolkit's errors
(``catalog_ingest.client``) hang from the same root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Failures of a disk that go away by themselves or when an operator acts (full, quota, I/O
#: error, read-only): the caller is told to retry (TransientError), never that its input is bad.
TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


class CatalogIngestError(Exception):
    """Root of every error catalog-ingest raises on purpose."""


class ConfigurationError(CatalogIngestError):
    pass


class NotFound(CatalogIngestError):
    pass


class Conflict(CatalogIngestError):
    pass


class InvalidInput(CatalogIngestError):
    pass


class TransientError(CatalogIngestError):
    pass


class BlobNotFound(CatalogIngestError):
    pass


class AuthenticationFailed(CatalogIngestError):
    """Credentials that do not hold; ``message`` is the exact text the contract gives."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Throttled(CatalogIngestError):
    """Over the request rate; retrying after ``retry_after`` seconds may succeed."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too Many Requests (retry after {retry_after} s)")
        self.retry_after = retry_after


class MerchantCenterError(CatalogIngestError):
    """An answer of the Merchant-Center Status resource other than 200: its error ``code``
    (``catalog_ingest.engine.merchant_center``) and a message for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class UnknownIngestion(NotFound):
    pass


class NotCancellable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"Catalog upload is {status} and can no longer be cancelled")
        self.status = status


class InvalidRequest(InvalidInput):
    """The request model does not hold (the JWO API's "Invalid request body")."""


class RequestTooLarge(InvalidInput):
    """A request body over the configured limit, refused before it is read in full."""


class UnknownStores(InvalidInput):
    pass


class MixedStores(InvalidInput):
    pass


class IdempotencyMismatch(InvalidInput):
    pass


class IncompleteStoreList(InvalidInput):
    def __init__(self, store_ids: list[str]) -> None:
        super().__init__(",".join(store_ids))
        self.store_ids = store_ids


class InvalidPageToken(InvalidInput):
    pass


@contextmanager
def disk_errors(where: str) -> Iterator[None]:
    """A local disk's transient failures (TRANSIENT_ERRNOS) as TransientError naming `where`:
    the "please retry" 500, the portal's "Try again", an upload taken up again later."""
    try:
        yield
    except OSError as exc:
        if exc.errno in TRANSIENT_ERRNOS:
            raise TransientError(f"{where}: {os.strerror(exc.errno)}") from exc
        raise
