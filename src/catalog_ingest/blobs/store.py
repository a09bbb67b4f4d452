"""The blob store interface and its factory: a local folder or S3, chosen by URL."""

from __future__ import annotations

import threading
from typing import Protocol
from urllib.parse import urlsplit

from catalog_ingest.errors import ConfigurationError


class BlobStore(Protocol):
    """Keys are relative paths such as ``payloads/<id>.json``; values are bytes."""

    def put(self, key: str, data: bytes, writing: threading.Event | None = None) -> None:
        """Store durably: when this returns, the blob survives a crash of this process.
        `writing`, when given, is set once the write is under way (so that a caller that
        started it in a thread may go on with CPU work)."""

    def get(self, key: str) -> bytes:
        """The blob's bytes; BlobNotFound when there is none."""

    def delete(self, key: str) -> None:
        """Remove the blob if present."""

    def check(self) -> None:
        """Raise if the store cannot be reached (for /healthz)."""


def open_blob_store(url: str) -> BlobStore:
    """`file:///path` → LocalBlobStore, `s3://bucket/prefix` → S3BlobStore."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        from catalog_ingest.blobs.local import LocalBlobStore

        return LocalBlobStore(parts.netloc + parts.path)
    if parts.scheme == "s3":
        from catalog_ingest.blobs.s3 import S3BlobStore

        return S3BlobStore(parts.netloc, parts.path.strip("/"))
    raise ConfigurationError(f"unsupported blob store URL {url!r}: use file:// or s3://")
