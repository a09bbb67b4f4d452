"""The DynamoDB tracking backend: the seed 003 CatalogAPIDB table, behind the TrackingBackend API.

One table, keys ``pk`` / ``sk`` (strings), three sparse global secondary indexes:

========================  =======================================  =============================
item                      pk / sk                                  indexed by
========================  =======================================  =============================
push                      ``PUSH#<id>`` / ``#PUSH``                ``pushes`` (listing, started_at)
chunk (one upload)        ``PUSH#<id>`` / ``CHUNK#<seq:08d>``      ``ingestions`` (ingestion_id),
                                                                   ``open`` (open_flag) while open
attempt                   ``PUSH#<id>`` / ``ATTEMPT#<ns>#<seq>#r``
lease (who works on it)   ``PUSH#<id>`` / ``#LEASE``
accepted item hash        ``HASH#<endpoint>\\n<source>`` /
                          ``<store>\\n<sku>``
staged item hash          ``STAGE#<push id>`` / ``<store>\\n<sku>``
========================  =======================================  =============================

Besides the interface, :meth:`DynamoTracking.claim_push` (create once), :meth:`acquire_lease`
and :meth:`settle_chunk` are conditional writes: what makes the Lambda handlers apply an event
delivered twice only once.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError

from catalog_ingest.client.aws.table import (
    ATTEMPT_FIELDS,
    ATTRIBUTES,
    CHUNK_FIELDS,
    INDEXES,
    KEY_SCHEMA,
    LEASE_SK,
    PUSH_FIELDS,
    PUSH_SK,
    SEP,
    chunk_sk,
    decode,
    encode,
    push_pk,
)
from catalog_ingest.client.push.tracking import (
    OPEN,
    RESUMABLE,
    ChunkRecord,
    PushRecord,
    TrackingError,
)

__all__ = ["ATTRIBUTES", "INDEXES", "KEY_SCHEMA", "DynamoTracking"]

class DynamoTracking:
    """Tracking in a DynamoDB table (boto3 ``dynamodb`` client); see the module docstring."""

    def __init__(self, table: str, client: Any = None) -> None:
        if client is None:
            import boto3  # the Lambda runtime has it; the toolkit install need not

            client = boto3.client("dynamodb")
        self.table, self.client = table, client

    @property
    def path(self) -> str:
        return f"dynamodb://{self.table}"

    def close(self) -> None:
        """Nothing to close: the client's connections are pooled by botocore."""

    def create_table(self) -> None:
        """Create the table (on-demand billing) and wait until it can be used (tests, docs)."""
        self.client.create_table(TableName=self.table, KeySchema=KEY_SCHEMA,
                                 AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexes=INDEXES,
                                 BillingMode="PAY_PER_REQUEST")
        self.client.get_waiter("table_exists").wait(TableName=self.table)

    # --- plumbing ------------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One DynamoDB call; a missing table or no access is a TrackingError (a clear message)."""
        try:
            return getattr(self.client, operation)(**kwargs)
        except self.client.exceptions.ResourceNotFoundException:
            raise TrackingError(f"{self.path}: no such DynamoDB table (or not in this region)"
                                ) from None
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise TrackingError(f"{self.path}: {exc}") from exc
            raise
        except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
            raise TrackingError(f"{self.path}: {exc}") from exc

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self.table,
                            Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table
        while True:
            answer = self._call("query", **kwargs)
            yield from answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _update(self, pk: str, sk: str, changes: dict[str, Any], *, condition: str | None = None,
                values: dict[str, Any] | None = None) -> bool:
        """SET the non-None changes, REMOVE the None ones; False when ``condition`` failed.

        In ``condition``, ``#st`` names the status attribute."""
        names: dict[str, str] = {"#st": "status"} if condition and "#st" in condition else {}
        attr_values: dict[str, Any] = dict(values or {})
        sets, removes = [], []
        for n, (name, value) in enumerate(changes.items()):
            names[f"#f{n}"] = name
            if value is None:
                removes.append(f"#f{n}")
            else:
                attr_values[f":v{n}"] = encode(name, value)
                sets.append(f"#f{n} = :v{n}")
        expression = (("SET " + ", ".join(sets)) if sets else "") + \
            ((" REMOVE " + ", ".join(removes)) if removes else "")
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": expression.strip(), "ExpressionAttributeNames": names,
            "ConditionExpression": condition or "attribute_exists(pk)"}
        if attr_values:
            kwargs["ExpressionAttributeValues"] = attr_values
        try:
            self._call("update_item", **kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            if condition is None:
                raise TrackingError(f"{self.path}: no record {pk} {sk}") from None
            return False
        return True

    def _put(self, item: dict[str, Any], *, once: bool) -> bool:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if once:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self._call("put_item", **kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- pushes --------------------------------------------------------------------------------

    def _push_item(self, push: PushRecord) -> dict[str, Any]:
        item = {"pk": {"S": push_pk(push.push_id)}, "sk": {"S": PUSH_SK},
                "listing": {"S": "PUSH"}}
        for name in PUSH_FIELDS:
            value = getattr(push, name)
            if value is not None:
                item[name] = encode(name, value)
        return item

    def create_push(self, push: PushRecord) -> None:
        if not self._put(self._push_item(push), once=True):
            raise TrackingError(f"{self.path}: push {push.push_id} exists already")

    def claim_push(self, push: PushRecord) -> bool:
        """Create the push unless it exists: True for the one caller that created it."""
        return self._put(self._push_item(push), once=True)

    def update_push(self, push_id: str, **changes: Any) -> None:
        self._update(push_pk(push_id), PUSH_SK, changes)

    def push(self, push_id: str) -> PushRecord | None:
        item = self._get(push_pk(push_id), PUSH_SK)
        return PushRecord(**decode(item, PUSH_FIELDS)) if item else None

    def pushes(self, limit: int = 20, endpoint: str | None = None,
               source_key: str | None = None) -> list[PushRecord]:
        kwargs: dict[str, Any] = {
            "IndexName": "pushes", "KeyConditionExpression": "listing = :p",
            "ExpressionAttributeValues": {":p": {"S": "PUSH"}}, "ScanIndexForward": False}
        if endpoint is not None and source_key is not None:
            kwargs["FilterExpression"] = "endpoint = :e AND source_key = :s"
            kwargs["ExpressionAttributeValues"].update({":e": {"S": endpoint},
                                                        ":s": {"S": source_key}})
        out = []
        for item in self._query(**kwargs):
            out.append(PushRecord(**decode(item, PUSH_FIELDS)))
            if len(out) >= limit:
                break
        return out

    def latest_resumable(self, endpoint: str | None = None, source_key: str | None = None
                         ) -> PushRecord | None:
        for push in self.pushes(200, endpoint, source_key):
            if push.status in RESUMABLE:
                return push
            if push.status == "DONE" and source_key is not None:
                return None
        return None

    def acquire_lease(self, push_id: str, owner: str, until: float) -> bool:
        """Hold the push (created or not yet) until ``until`` (epoch seconds) unless someone
        else holds it now: its own item, ``PUSH#<id>`` / ``#LEASE``."""
        return self._update(
            push_pk(push_id), LEASE_SK, {"lease_owner": owner, "lease_until": until},
            condition="attribute_not_exists(pk) OR lease_until < :now OR lease_owner = :owner",
            values={":now": {"N": repr(time.time())}, ":owner": {"S": owner}})

    def stale_pushes(self, started_before: float) -> list[PushRecord]:
        """Pushes left RUNNING or INTERRUPTED, started before then (held or not: taking one
        up needs its lease)."""
        kwargs: dict[str, Any] = {
            "IndexName": "pushes",
            "KeyConditionExpression": "listing = :p AND started_at < :t",
            "FilterExpression": "#st IN (:r, :i)",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":p": {"S": "PUSH"}, ":t": {"N": repr(started_before)},
                                          ":r": {"S": "RUNNING"}, ":i": {"S": "INTERRUPTED"}}}
        return [PushRecord(**decode(i, PUSH_FIELDS)) for i in self._query(**kwargs)]

    def release_lease(self, push_id: str, owner: str) -> None:
        # Not ours any more when the condition fails (it ran out and someone else took it).
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self._call("delete_item", TableName=self.table,
                       Key={"pk": {"S": push_pk(push_id)}, "sk": {"S": LEASE_SK}},
                       ConditionExpression="lease_owner = :owner",
                       ExpressionAttributeValues={":owner": {"S": owner}})

    def finalize_push(self, push_id: str, summary: dict[str, Any]) -> bool:
        """Mark a push DONE once (from SUBMITTED or DONE): True for the caller that did."""
        changes = {"status": "DONE", "finished_at": time.time(), "summary": summary,
                   "finalized": True}
        return self._update(push_pk(push_id), PUSH_SK, changes,
                            condition="attribute_not_exists(finalized) AND "
                                      "#st IN (:submitted, :done)",
                            values={":submitted": {"S": "SUBMITTED"}, ":done": {"S": "DONE"}})

    # --- chunks --------------------------------------------------------------------------------

    def add_chunk(self, chunk: ChunkRecord) -> None:
        item = {"pk": {"S": push_pk(chunk.push_id)}, "sk": {"S": chunk_sk(chunk.seq)}}
        for name in CHUNK_FIELDS:
            value = getattr(chunk, name)
            if value is not None:
                item[name] = encode(name, value)
        if chunk.status in OPEN and chunk.ingestion_id:
            item["open_flag"] = {"S": "OPEN"}
        if not self._put(item, once=True):
            raise TrackingError(f"{self.path}: chunk {chunk.seq} of {chunk.push_id} exists")

    def update_chunk(self, push_id: str, seq: int, **changes: Any) -> None:
        self._update(push_pk(push_id), chunk_sk(seq), _with_open_flag(changes))

    def settle_chunk(self, push_id: str, seq: int, **changes: Any) -> bool:
        """Update a chunk that has not ended yet (status not DONE/FATAL/CANCELLED): False when
        it had (someone else settled it first)."""
        return self._update(push_pk(push_id), chunk_sk(seq), _with_open_flag(changes),
                            condition="attribute_exists(pk) AND NOT (#st IN (:d, :f, :c))",
                            values={":d": {"S": "DONE"}, ":f": {"S": "FATAL"},
                                    ":c": {"S": "CANCELLED"}})

    def chunk(self, push_id: str, seq: int) -> ChunkRecord | None:
        item = self._get(push_pk(push_id), chunk_sk(seq))
        return ChunkRecord(**decode(item, CHUNK_FIELDS)) if item else None

    def chunks(self, push_id: str) -> list[ChunkRecord]:
        items = self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
                            ExpressionAttributeValues={":p": {"S": push_pk(push_id)},
                                                       ":c": {"S": "CHUNK#"}},
                            ConsistentRead=True)
        return [ChunkRecord(**decode(i, CHUNK_FIELDS)) for i in items]

    def find_ingestion(self, ingestion_id: str) -> tuple[PushRecord, ChunkRecord] | None:
        keys = list(self._query(IndexName="ingestions",
                                KeyConditionExpression="ingestion_id = :i",
                                ExpressionAttributeValues={":i": {"S": ingestion_id}}))
        found = []
        for key in keys:
            push = self.push(key["pk"]["S"].removeprefix("PUSH#"))
            chunk = self.chunk(key["pk"]["S"].removeprefix("PUSH#"),
                               int(key["sk"]["S"].removeprefix("CHUNK#")))
            if push and chunk and chunk.ingestion_id == ingestion_id:
                found.append((push, chunk))
        return max(found, key=lambda pc: pc[0].started_at) if found else None

    def open_uploads(self) -> list[ChunkRecord]:
        keys = self._query(IndexName="open", KeyConditionExpression="open_flag = :o",
                           ExpressionAttributeValues={":o": {"S": "OPEN"}})
        out = []
        for key in keys:
            record = self.chunk(key["pk"]["S"].removeprefix("PUSH#"),
                                int(key["sk"]["S"].removeprefix("CHUNK#")))
            if record is not None and record.status in OPEN and record.ingestion_id:
                out.append(record)
        return sorted(out, key=lambda c: c.submitted_at or 0.0)

    # --- attempts ------------------------------------------------------------------------------

    def record_attempt(self, push_id: str, seq: int, outcome: str, http_status: int | None = None,
                       request_id: str | None = None, message: str | None = None) -> None:
        now = time.time()
        sk = f"ATTEMPT#{time.time_ns():020d}#{seq:08d}#{secrets.token_hex(4)}"
        values = dict(zip(ATTEMPT_FIELDS, (push_id, seq, now, outcome, http_status, request_id,
                                            message), strict=True))
        item = {"pk": {"S": push_pk(push_id)}, "sk": {"S": sk}}
        item.update({k: encode(k, v) for k, v in values.items() if v is not None})
        self._put(item, once=False)

    def attempts(self, push_id: str, seq: int | None = None) -> list[dict[str, Any]]:
        items = self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                            ExpressionAttributeValues={":p": {"S": push_pk(push_id)},
                                                       ":a": {"S": "ATTEMPT#"}},
                            ConsistentRead=True)
        out = []
        for item in items:
            row = {"id": item["sk"]["S"], **decode(item, ATTEMPT_FIELDS)}
            if seq is None or row["seq"] == seq:
                out.append(row)
        return out

    # --- delta ---------------------------------------------------------------------------------

    def known_hashes(self, endpoint: str, source_key: str, store_id: str,
                     skus: Sequence[str]) -> dict[str, bytes]:
        pk = f"HASH#{endpoint}{SEP}{source_key}"
        found: dict[str, bytes] = {}
        wanted = list(dict.fromkeys(skus))
        for start in range(0, len(wanted), 100):
            keys = [{"pk": {"S": pk}, "sk": {"S": f"{store_id}{SEP}{sku}"}}
                    for sku in wanted[start:start + 100]]
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._call("batch_get_item", RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["sk"]["S"].split(SEP, 1)[1]] = bytes(item["content_hash"]["B"])
                request = answer.get("UnprocessedKeys") or {}
        return found

    def known_items(self, endpoint: str, source_key: str) -> Iterator[tuple[str, str]]:
        items = self._query(KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": f"HASH#{endpoint}{SEP}"
                                                                   f"{source_key}"}},
                            ConsistentRead=True)
        pairs = [tuple(i["sk"]["S"].split(SEP, 1)) for i in items]
        return iter([(s, k) for s, k in sorted(pairs)])

    def _batch_write(self, requests: Iterable[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for request in requests:
            batch.append(request)
            if len(batch) == 25:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: batch}
        while pending:
            answer = self._call("batch_write_item", RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}

    def stage(self, push_id: str, rows: Iterable[tuple[str, str, bytes | None]]) -> None:
        def put(store: str, sku: str, digest: bytes | None) -> dict[str, Any]:
            item: dict[str, Any] = {"pk": {"S": f"STAGE#{push_id}"},
                                    "sk": {"S": f"{store}{SEP}{sku}"}}
            if digest is not None:
                item["content_hash"] = {"B": digest}
            return {"PutRequest": {"Item": item}}

        latest = {(s, k): h for s, k, h in rows}  # one batch may not hold a key twice
        self._batch_write(put(s, k, h) for (s, k), h in latest.items())

    def merge_staged(self, push_id: str, endpoint: str, source_key: str) -> None:
        """Apply the staged hashes; each step is idempotent, so a merge cut short is redone."""
        staged = list(self._query(KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": f"STAGE#{push_id}"}},
                                  ConsistentRead=True))
        target = f"HASH#{endpoint}{SEP}{source_key}"

        def apply(item: dict[str, Any]) -> dict[str, Any]:
            key = {"pk": {"S": target}, "sk": item["sk"]}
            if "content_hash" not in item:
                return {"DeleteRequest": {"Key": key}}
            return {"PutRequest": {"Item": {**key, "content_hash": item["content_hash"],
                                            "push_id": {"S": push_id}}}}

        self._batch_write(apply(i) for i in staged)
        self._batch_write({"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}}
                          for i in staged)


def _with_open_flag(changes: dict[str, Any]) -> dict[str, Any]:
    """Keep the sparse ``open`` index in step with the chunk's status."""
    if "status" not in changes:
        return changes
    return {**changes, "open_flag": "OPEN" if changes["status"] in OPEN else None}
