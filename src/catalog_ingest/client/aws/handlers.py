"""The Lambda entry points: each reads its configuration, opens its AWS parts, and delegates.

``catalog_ingest.client.aws.s3_handler`` (S3 ObjectCreated), ``.sqs_handler`` (SQS, with
``ReportBatchItemFailures``) and ``.poll_handler`` (a schedule).
"""

from __future__ import annotations

import logging
from typing import Any

from catalog_ingest.client.aws.config import Aws, Config
from catalog_ingest.client.aws.notifications import handle_records
from catalog_ingest.client.aws.poll import poll_open_uploads, resume_stale_pushes
from catalog_ingest.client.aws.s3_ingest import PushIncomplete, ingest

log = logging.getLogger("catalog_ingest.client.aws")
#: Signing certificates by URL, kept while the Lambda container is warm (fetched once).
_CERTIFICATES: dict[str, bytes] = {}
_CREATED = "ObjectCreated:"


def _logging() -> None:
    if not logging.getLogger().handlers:  # outside Lambda (whose runtime installs one)
        logging.basicConfig(level=logging.INFO)
    logging.getLogger("catalog_ingest").setLevel(logging.INFO)


def s3_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Push every created object of the event; raises (so Lambda retries the event) when any
    record failed or any upload of its push failed, after trying all: what succeeded is not
    done again."""
    _logging()
    config = Config.from_env()
    aws = Aws(config)
    pushes, errors = [], []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith(_CREATED):
            continue
        try:
            pushed = ingest(record, context, config, aws)
            pushes.append(pushed)
            if pushed["status"] == "INCOMPLETE":
                raise PushIncomplete(f"push {pushed['pushId']} of {pushed['source']}: some "
                                     "uploads failed (see the tracking table)")
        except Exception as exc:
            log.exception("S3 record %s failed", record.get("s3", {}).get("object", {}))
            errors.append(exc)
    if errors:
        raise errors[0]
    return {"pushes": pushes}


def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Complete the uploads the notifications name; answers SQS partial batch failures."""
    _logging()
    config = Config.from_env()
    return handle_records(event, config, Aws(config), _CERTIFICATES)


def poll_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resume pushes whose handler died, then poll the status of uploads still open
    ``CATALOG_INGEST_POLL_AFTER`` seconds on."""
    _logging()
    config = Config.from_env()
    aws = Aws(config)
    resumed = resume_stale_pushes(config, aws, context)
    return {"resumed": resumed, **poll_open_uploads(config, aws)}
