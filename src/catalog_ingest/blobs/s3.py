"""Blob store in an S3 bucket (AWS or any S3-compatible endpoint via AWS_ENDPOINT_URL_S3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from catalog_ingest.errors import BlobNotFound, TransientError

#: Short timeouts and few retries: a request waiting on an unreachable store should get the
#: "please retry" 500 in seconds, not hang; workers retry on their own.
_CONFIG = Config(connect_timeout=5, read_timeout=30,
                 retries={"max_attempts": 3, "mode": "standard"})


@contextmanager
def _store_errors() -> Iterator[None]:
    """The store unreachable, throttling or failing (5xx) is transient; a 404 is not."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("NoSuchKey", "404"):
            raise
        if status >= 500 or status == 429 or code in ("SlowDown", "RequestTimeout",
                                                      "ServiceUnavailable", "Throttling"):
            raise TransientError(f"blob store: {code or status}") from exc
        raise
    except BotoCoreError as exc:  # connection refused or reset, timeouts, endpoint down
        raise TransientError(f"blob store: {type(exc).__name__}") from exc


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = client or boto3.client("s3", config=_CONFIG)

    def put(self, key: str, data: bytes, writing: threading.Event | None = None) -> None:
        # A successful PutObject is durable in S3's own model; nothing more to do.
        if writing is not None:
            writing.set()
        with _store_errors():
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes:
        try:
            with _store_errors():
                response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
                body: bytes = response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFound(key) from exc
            raise
        return body

    def delete(self, key: str) -> None:
        with _store_errors():
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def check(self) -> None:
        with _store_errors():
            self.client.head_bucket(Bucket=self.bucket)
