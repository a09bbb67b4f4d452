"""The tracking table's layout (keys, indexes) and how record fields become DynamoDB attributes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from catalog_ingest.client.push.tracking import ChunkRecord, PushRecord

JSON_FIELDS = {"sources", "options", "summary"}
PUSH_FIELDS = [f.name for f in fields(PushRecord)]
CHUNK_FIELDS = [f.name for f in fields(ChunkRecord)]
ATTEMPT_FIELDS = ("push_id", "seq", "at", "outcome", "http_status", "request_id", "message")
PUSH_SK = "#PUSH"
LEASE_SK = "#LEASE"
SEP = "\n"

#: The table's definition (also in deploy/aws/template.yaml): what ``create_table`` makes.
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"},
              {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": n, "AttributeType": t} for n, t in
              (("pk", "S"), ("sk", "S"), ("listing", "S"), ("started_at", "N"),
               ("ingestion_id", "S"), ("open_flag", "S"))]
INDEXES = [
    {"IndexName": "pushes", "KeySchema": [{"AttributeName": "listing", "KeyType": "HASH"},
                                          {"AttributeName": "started_at", "KeyType": "RANGE"}],
     "Projection": {"ProjectionType": "ALL"}},
    {"IndexName": "ingestions", "KeySchema": [{"AttributeName": "ingestion_id",
                                               "KeyType": "HASH"}],
     "Projection": {"ProjectionType": "KEYS_ONLY"}},
    {"IndexName": "open", "KeySchema": [{"AttributeName": "open_flag", "KeyType": "HASH"}],
     "Projection": {"ProjectionType": "KEYS_ONLY"}},
]


def push_pk(push_id: str) -> str:
    return f"PUSH#{push_id}"


def chunk_sk(seq: int) -> str:
    return f"CHUNK#{seq:08d}"


def to_attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    return {"S": str(value)}


def from_attr(attr: dict[str, Any]) -> Any:
    kind, value = next(iter(attr.items()))
    if kind == "N":
        is_int = "." not in value and "e" not in value.lower()
        return int(value) if is_int else float(value)
    if kind == "B":
        return bytes(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    return value


def encode(name: str, value: Any) -> dict[str, Any]:
    if name in JSON_FIELDS:
        return {"S": json.dumps(value)}
    if name in ("started_at", "finished_at", "at", "submitted_at", "completed_at") \
            and isinstance(value, float):
        return {"N": repr(value)}  # every digit kept: the same float comes back
    return to_attr(value)


def decode(item: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        attr = item.get(name)
        if attr is None:
            out[name] = None
        elif name in JSON_FIELDS:
            out[name] = json.loads(attr["S"])
        else:
            out[name] = from_attr(attr)
    for name in ("started_at", "finished_at", "at", "submitted_at", "completed_at"):
        if isinstance(out.get(name), int):
            out[name] = float(out[name])
    return out
