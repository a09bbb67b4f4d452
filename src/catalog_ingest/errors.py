"""The one exception root of catalog-ingest and the tree below it.

    CatalogIngestError
    ├── ConfigurationError          bad settings; the process cannot start
    ├── NotFound                    a resource the caller may not see or that does not exist
    ├── Conflict                    the resource is in a state that forbids the action
    ├── InvalidInput                input that breaks the contract (the message says how)
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
