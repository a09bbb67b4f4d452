"""Blob store in an S3 bucket (AWS or any S3-compatible endpoint via AWS_ENDPOINT_URL_S3)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from catalog_ingest.errors import BlobNotFound


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = client or boto3.client("s3")

    def put(self, key: str, data: bytes) -> None:
        # A successful PutObject is durable in S3's own model; nothing more to do.
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFound(key) from exc
            raise
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
