"""One S3 ObjectCreated record → one push (seed 003 steps 1-13), applied once however often.

The push id is derived from the event (bucket, key, and the object's version, sequencer or
ETag), so a redelivered event names the same push. The push is created once (a conditional
put), held by one invocation at a time (a lease until that invocation's own deadline), and
always run as a *resume* of itself: the push pipeline then sends only the chunks the table does
not know as accepted, each with the content-derived Idempotency-Key ``push`` uses, so a
handler killed half way and run again finishes the job without uploading anything twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from catalog_ingest.client.aws.config import Aws, Config, invocation_id, lease_until
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.client.aws.s3io import download, parse_s3_uri, put_file, put_json
from catalog_ingest.client.aws.settle import finish_if_settled
from catalog_ingest.client.push import Push, PushError, PushOptions, SourceError
from catalog_ingest.client.push.results import INVALID_ROWS, SUMMARY
from catalog_ingest.client.push.setup import _sources, load, source_key
from catalog_ingest.client.push.tracking import PushRecord
from catalog_ingest.errors import TransientError

log = logging.getLogger(__name__)
#: Pushes in these states are not run again by a redelivered event.
FINISHED = ("DONE", "SUBMITTED", "ABANDONED", "FAILED")


class LeaseHeld(TransientError):
    """Another invocation is working on this push now: let the event be retried later."""


class PushIncomplete(TransientError):
    """Some upload of the push failed (recorded with its error): the invocation fails, so that
    Lambda retries the event, which resumes the push and sends only what failed."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    version: str | None
    etag: str | None
    sequencer: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> S3Object:
        s3 = record["s3"]
        obj = s3["object"]
        return cls(s3["bucket"]["name"], unquote_plus(obj["key"]), obj.get("versionId") or None,
                   obj.get("eTag") or None, obj.get("sequencer") or None)

    @classmethod
    def from_recorded(cls, options: dict[str, Any]) -> S3Object | None:
        """The object a push recorded it was made from (None for a push made elsewhere)."""
        uri = options.get("s3_source")
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            return None
        bucket, key = parse_s3_uri(uri)
        return cls(bucket, key, options.get("s3_version"), options.get("s3_etag"),
                   options.get("s3_sequencer"))

    def record(self) -> dict[str, Any]:
        """This object as an S3 event record (what ``ingest`` takes)."""
        obj = {"key": quote_plus(self.key), "versionId": self.version, "eTag": self.etag,
               "sequencer": self.sequencer}
        return {"eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": self.bucket},
                       "object": {k: v for k, v in obj.items() if v is not None}}}

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def push_id(self) -> str:
        """The same for every delivery of this event, another for the next write of the key."""
        version = self.version or self.sequencer or self.etag or ""
        digest = hashlib.sha256(f"{self.bucket}\n{self.key}\n{version}".encode()).hexdigest()
        return f"s3-{digest[:24]}"


def results_base(config: Config, obj: S3Object, push_id: str) -> str:
    """``<prefix><object key>/<push id>/``: every result of one file's push sits there."""
    return f"{config.results_prefix}{obj.key}/{push_id}/"


def ingest(record: dict[str, Any], context: Any, config: Config, aws: Aws) -> dict[str, Any]:
    """Push one S3 object; returns what became of it (for the handler's answer and logs)."""
    obj = S3Object.from_record(record)
    tracking = aws.tracking
    push_id = obj.push_id
    known = tracking.push(push_id)
    if known is not None and known.status in FINISHED:
        log.info("%s: push %s is %s already: nothing to do", obj.uri, push_id, known.status)
        return {"pushId": push_id, "source": obj.uri, "status": known.status, "replayed": True}
    owner = invocation_id(context)
    if not tracking.acquire_lease(push_id, owner, lease_until(context, config)):
        raise LeaseHeld(f"push {push_id} of {obj.uri} is being worked on by another invocation")
    work = config.work_dir / push_id
    try:
        known = tracking.push(push_id)  # again: it may have changed before we held it
        if known is not None and known.status in FINISHED:
            return {"pushId": push_id, "source": obj.uri, "status": known.status,
                    "replayed": True}
        return _ingest(obj, known, work, config, aws)
    finally:
        # /tmp outlives the invocation in a warm container: leave nothing behind (a run that
        # resumes this push downloads the object again).
        shutil.rmtree(work, ignore_errors=True)
        tracking.release_lease(push_id, owner)


def _ingest(obj: S3Object, known: PushRecord | None, work: Path, config: Config, aws: Aws
            ) -> dict[str, Any]:
    tracking, push_id = aws.tracking, obj.push_id
    local = work / "source" / _file_name(obj.key)
    if not download(aws.s3, obj.bucket, obj.key, local, version=obj.version, etag=obj.etag):
        if known is not None:
            tracking.update_push(push_id, status="ABANDONED", pid=None)
        log.warning("%s was replaced before it could be read: left to the newer event", obj.uri)
        return {"pushId": push_id, "source": obj.uri, "status": "ABANDONED", "replayed": False}
    options = PushOptions(sources=(local,), mapping_path=_mapping(config, aws, work),
                          store=config.store, chunk_size=config.chunk_size, wait=False,
                          results_dir=work / "results", source_name=obj.uri,
                          max_attempts=config.max_attempts)
    base = results_base(config, obj, push_id)
    if known is None and not _create(tracking, obj, push_id, options, config, aws, base):
        return {"pushId": push_id, "source": obj.uri, "status": "FAILED", "replayed": False}
    return _run(tracking, push_id, options, config, aws, obj, base)


def _create(tracking: DynamoTracking, obj: S3Object, push_id: str, options: PushOptions,
            config: Config, aws: Aws, base: str) -> bool:
    """Record the push (once, whoever comes first); False when its file cannot be read."""
    try:
        _, files = load(options)
    except SourceError as exc:
        record = PushRecord(push_id, config.endpoint, source_key(options), [],
                            _recorded(options, obj, config, base), "FAILED", time.time(),
                            finished_at=time.time(), summary={"error": str(exc)})
        tracking.claim_push(record)
        put_json(aws.s3, config.results_bucket, base + SUMMARY,
                 {"pushId": push_id, "status": "FAILED", "source": obj.uri, "error": str(exc)})
        log.error("%s cannot be read: %s", obj.uri, exc)
        return False
    tracking.claim_push(PushRecord(
        push_id, config.endpoint, source_key(options), _sources(files, options),
        _recorded(options, obj, config, base), "INTERRUPTED", time.time(),
        results_dir=str(options.results_dir)))
    return True


def _recorded(options: PushOptions, obj: S3Object, config: Config, base: str) -> dict[str, Any]:
    return {**options.recorded(), "s3_source": obj.uri, "s3_version": obj.version,
            "s3_etag": obj.etag, "s3_sequencer": obj.sequencer,
            "results_uri": f"s3://{config.results_bucket}/{base}"}


def _run(tracking: DynamoTracking, push_id: str, options: PushOptions, config: Config, aws: Aws,
         obj: S3Object, base: str) -> dict[str, Any]:
    """Run the push as a resume of itself (the caller holds its lease)."""
    record = tracking.push(push_id)
    if record is not None and record.status == "RUNNING":
        # We hold the lease, so whoever marked it RUNNING is gone (killed, timed out).
        tracking.update_push(push_id, status="INTERRUPTED", pid=None)
    try:
        result = asyncio.run(_push(replace(options, resume=push_id), tracking, aws))
    except PushError as exc:
        # The push cannot go on as planned (its mapping changed since it started): retrying
        # would fail the same way. Recorded; putting the file again starts a new push.
        tracking.update_push(push_id, status="FAILED", pid=None, finished_at=time.time(),
                             summary={"error": str(exc)})
        put_json(aws.s3, config.results_bucket, base + SUMMARY,
                 {"pushId": push_id, "status": "FAILED", "source": obj.uri, "error": str(exc)})
        log.error("%s: push %s failed: %s", obj.uri, push_id, exc)
        return {"pushId": push_id, "source": obj.uri, "status": "FAILED", "replayed": False}
    _publish(aws, config, base, result.results_dir, obj)
    finish_if_settled(tracking, push_id, aws, config)
    final = tracking.push(push_id)
    status = final.status if final else result.status
    log.info("%s: push %s %s (%s)", obj.uri, push_id, status, result.outcome.chunks)
    return {"pushId": push_id, "source": obj.uri, "status": status, "replayed": False,
            "uploads": result.outcome.chunks.get("accepted", 0),
            "invalidRows": sum(s.invalid for s in result.outcome.stores.values()),
            "results": f"s3://{config.results_bucket}/{base}"}


async def _push(options: PushOptions, tracking: DynamoTracking, aws: Aws) -> Any:
    client = aws.async_api()
    try:
        return await Push(options, client, tracking).run()
    finally:
        await client.close()


def _publish(aws: Aws, config: Config, base: str, results_dir: Path, obj: S3Object) -> None:
    """The validation problems and the push's summary, next to the file's reports."""
    for name in (INVALID_ROWS, SUMMARY):
        path = results_dir / name
        if path.exists():
            content_type = "text/csv" if name.endswith(".csv") else "application/json"
            put_file(aws.s3, config.results_bucket, base + name, path, content_type)
    log.info("%s: results under s3://%s/%s", obj.uri, config.results_bucket, base)


def _mapping(config: Config, aws: Aws, work: Path) -> Path | None:
    """CATALOG_INGEST_MAPPING: an s3:// URI (fetched), or a path (relative: to the package)."""
    if not config.mapping:
        return None
    if config.mapping.startswith("s3://"):
        bucket, key = parse_s3_uri(config.mapping)
        target = work / "mapping.toml"
        download(aws.s3, bucket, key, target)
        return target
    path = Path(config.mapping)
    if not path.is_absolute():
        import os

        path = Path(os.environ.get("LAMBDA_TASK_ROOT") or Path.cwd()) / path
    return path


def _file_name(key: str) -> str:
    """The object's file name (its extension tells the format), safe on the local disk."""
    name = key.rsplit("/", 1)[-1] or "catalog"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-120:]
