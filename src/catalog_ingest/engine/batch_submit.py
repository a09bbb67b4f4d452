"""Submit a checked file: its valid rows as uploads of at most 10,000 items, one batch.

Each upload goes through `engine.intake` exactly as an API upload does (its JSON body built
from the rows, the stores checked, the payload stored durably before the row commits). Every
upload of a batch carries an idempotency key derived from the staged file, so submitting the
same check twice (a double click, a retry after an error, a stale form sent again) gives the
same uploads, never a second copy; the stores of every chunk are checked before the first is
accepted, so a file is not half-submitted because a later chunk names a store that went away.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD
from catalog_ingest.domain.status import ProcessingStatus
from catalog_ingest.engine import intake
from catalog_ingest.engine.staging import Owner, Staged
from catalog_ingest.errors import Conflict, NotFound
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal_batches, uploads
from catalog_ingest.storage.portal_batches import Batch, BatchUpload
from catalog_ingest.storage.uploads import Upload

_BATCH_NAMESPACE: Final = uuid.UUID("5d0c6f0e-9a43-4a57-9a3e-0c5b7d2f4e11")
_encode = msgspec.json.Encoder().encode


class NothingToSubmit(Conflict):
    """The check found no valid row."""


@dataclass(frozen=True)
class Submitted:
    batch_id: str
    ingestion_ids: list[str]


def batch_id_for(staged: Staged) -> str:
    return str(uuid.uuid5(_BATCH_NAMESPACE, staged.staging_id))


def _chunks(staged: Staged) -> Iterator[tuple[list[int], list[dict[str, Any]]]]:
    decoder = msgspec.json.Decoder(tuple[int, dict[str, Any]])
    lines: list[int] = []
    items: list[dict[str, Any]] = []
    with open(staged.valid, "rb") as rows:
        for raw in rows:
            line, item = decoder.decode(raw)
            lines.append(line)
            items.append(item)
            if len(items) == MAX_ITEMS_PER_UPLOAD:
                yield lines, items
                lines, items = [], []
    if items:
        yield lines, items


def _stores(items: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(item["store_id"] for item in items))


def submit(svc: Runtime, owner: Owner, staged: Staged) -> Submitted:
    """Accept the staged file's valid rows as one batch (the same batch on a repeat)."""
    meta = staged.read_meta()
    if meta.get("state") not in ("CHECKED", "SUBMITTED"):
        raise NotFound("This file has not been checked: upload and check it again.")
    if meta["state"] == "SUBMITTED":
        return Submitted(meta["batch_id"], meta["ingestion_ids"])
    if not meta["summary"]["valid"]:
        raise NothingToSubmit("No row of this file can be submitted: fix the problems listed "
                              "and check the file again.")
    for _, items in _chunks(staged):  # every chunk's stores before any chunk is accepted
        intake.check_stores(svc, owner.retailer_id, _stores(items))
    batch_id = batch_id_for(staged)
    key_base = hashlib.sha256(staged.staging_id.encode()).hexdigest()[:32]
    members: list[BatchUpload] = []
    for position, (lines, items) in enumerate(_chunks(staged)):
        body = _encode({"catalogItems": items})
        ingestion_id = intake.submit_upload(  # the API's own intake: request model, stores
            svc, owner.retailer_id, body, idempotency_key=f"portal-file:{key_base}:{position}",
            source="portal", batch_id=batch_id)
        lines_key = f"portal/batches/{batch_id}/{position}.lines.json"
        svc.blobs.put(lines_key, _encode(lines))
        members.append(BatchUpload(ingestion_id, batch_id, position, lines_key))
    _record(svc, owner, staged, meta, batch_id, members)
    ids = [m.ingestion_id for m in members]
    meta.update(state="SUBMITTED", batch_id=batch_id, ingestion_ids=ids)
    staged.write_meta(meta)
    return Submitted(batch_id, ids)


def _record(svc: Runtime, owner: Owner, staged: Staged, meta: dict[str, Any], batch_id: str,
            members: list[BatchUpload]) -> None:
    source_key = f"portal/batches/{batch_id}/source"
    svc.blobs.put(source_key, staged.source.read_bytes())
    batch = Batch(batch_id, owner.retailer_id, owner.user_id, meta["name"][:255], meta["format"],
                  meta.get("sheet"), meta.get("mapping") or None, source_key,
                  meta["summary"]["rows"], meta["summary"]["valid"], time.time())
    with svc.db.write() as conn:
        if portal_batches.get_batch(conn, batch_id, owner.retailer_id) is None:
            portal_batches.insert_batch(conn, batch, members)


@dataclass
class BatchView:
    batch: Batch
    members: list[BatchUpload]
    uploads: list[Upload]

    @property
    def finished(self) -> bool:
        return all(ProcessingStatus(u.status).terminal for u in self.uploads)


def get_batch(svc: Runtime, retailer_id: str, batch_id: str) -> BatchView:
    with svc.db.read() as conn:
        batch = portal_batches.get_batch(conn, batch_id, retailer_id)
        if batch is None:
            raise NotFound(f"no batch {batch_id!r}")
        members = portal_batches.batch_uploads(conn, batch_id)
        found = [uploads.get_upload(conn, m.ingestion_id, retailer_id) for m in members]
    return BatchView(batch, members, [u for u in found if u is not None])


def batch_status(svc: Runtime, retailer_id: str, batch_id: str) -> BatchView:
    """The batch with its uploads as they stand now (for the live batch page)."""
    return get_batch(svc, retailer_id, batch_id)
