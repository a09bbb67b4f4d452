"""The one exception root of catalog-ingest and the tree below it.

    CatalogIngestError
    ├── ConfigurationError          bad settings; the process cannot start
    ├── NotFound                    a resource the caller may not see or that does not exist
    │   └── UnknownIngestion        an ingestion id unknown to the caller's retailer
    ├── Conflict                    the resource is in a state that forbids the action
    │   └── NotCancellable          the upload is no longer INQUEUE
    ├── InvalidInput                input that breaks the contract (the message says how)
    │   ├── UnknownStores           none of the request's stores is the caller's
    │   ├── MixedStores             some are and some are not
    │   ├── IdempotencyMismatch     an Idempotency-Key reused with another body
    │   ├── IncompleteStoreList     archive's allApplicableStores is not every store
    │   └── InvalidPageToken        a nextToken that this service did not issue for the caller
    ├── TransientError              may succeed if retried (database or blob store unreachable)
    ├── AuthenticationFailed        a request or link whose credentials do not hold (403)
    └── BlobNotFound                a payload or report is missing from the blob store

The API maps each to an HTTP answer in one place (``catalog_ingest.api.errors``).
"""

from __future__ import annotations


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


class UnknownIngestion(NotFound):
    pass


class NotCancellable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"Catalog upload is {status} and can no longer be cancelled")
        self.status = status


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
