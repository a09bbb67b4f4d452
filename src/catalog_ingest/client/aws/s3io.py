"""The few S3 operations the handlers need: read an object to /tmp, write a result object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from catalog_ingest.errors import ConfigurationError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise ConfigurationError(f"not an s3://bucket/key URI: {uri!r}")
    return parts.netloc, key


def download(s3: Any, bucket: str, key: str, target: Path, *, version: str | None = None,
             etag: str | None = None) -> bool:
    """Copy the object to ``target``; False when that version of it is gone (replaced or
    deleted since the event): then a newer event, if any, is about its current content."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        kwargs["VersionId"] = version
    elif etag:
        kwargs["IfMatch"] = etag if etag.startswith('"') else f'"{etag}"'
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        answer = s3.get_object(**kwargs)
    except s3.exceptions.NoSuchKey:
        return False
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412",
                                                          "NoSuchVersion"):
            return False
        raise
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as out:
        for block in answer["Body"].iter_chunks(1024 * 1024):
            out.write(block)
    partial.replace(target)
    return True


def put_bytes(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def put_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    put_bytes(s3, bucket, key, json.dumps(document, indent=2, default=str).encode(),
              "application/json")


def put_file(s3: Any, bucket: str, key: str, path: Path, content_type: str) -> None:
    with open(path, "rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
