"""The OpenAPI 3.1 description, built from the msgspec request models (one source of truth)."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from catalog_ingest.api import models

_MESSAGE = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
_ERRORMSG = {"type": "object", "required": ["errorMsg"],
             "properties": {"errorMsg": {"type": "string"}}}
_INGESTION = {"type": "object", "required": ["ingestionId"],
              "properties": {"ingestionId": {"type": "string", "format": "uuid"}}}
_STATUS = {
    "type": "object", "required": ["processingStatus", "reportDownloadLink"],
    "properties": {
        "processingStatus": {"enum": ["INQUEUE", "INPROGRESS", "DONE", "CANCELLED", "FATAL"]},
        "reportDownloadLink": {"type": "string"},
    },
}
_CANCELLED = {"type": "object", "required": ["processingStatus"],
              "properties": {"processingStatus": {"const": "CANCELLED"}}}

# (path, request model, success status, success schema, extra error statuses)
_OPERATIONS: list[tuple[str, type, str, dict[str, Any], tuple[str, ...]]] = [
    ("upload", models.UploadRequest, "201", _INGESTION, ()),
    ("getCatalogUploadStatus", models.IngestionRequest, "200", _STATUS, ()),
    ("archive", models.ArchiveRequest, "201", _INGESTION, ()),
    ("cancelCatalogUpload", models.IngestionRequest, "200", _CANCELLED, ("409",)),
]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(name: str, model: type, ok: str, ok_schema: dict[str, Any],
               extra: tuple[str, ...]) -> dict[str, Any]:
    responses = {
        ok: _json(ok_schema, "Success"),
        "400": _json({"oneOf": [_MESSAGE, _ERRORMSG]}, "Invalid request"),
        "403": _json(_MESSAGE, "Authentication failed"),
        "413": _json(_MESSAGE, "Request Entity Too Large"),
        "429": _json(_MESSAGE, "Too Many Requests"),
        "500": _json(_ERRORMSG, "Server error"),
    }
    for status in extra:
        responses[status] = _json(_ERRORMSG, "Conflict")
    return {
        "operationId": name,
        "security": [{"sigv4": []}],
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}}]
        if name in ("upload", "archive") else [],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}},
        "responses": responses,
    }


@cache
def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [op[1] for op in _OPERATIONS], ref_template="#/components/schemas/{name}"
    )
    paths = {f"/v1/catalog/{name}": {"post": _operation(name, model, ok, schema, extra)}
             for name, model, ok, schema, extra in _OPERATIONS}
    return {
        "openapi": "3.1.0",
        "info": {"title": "catalog-ingest Catalog API", "version": "1.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"sigv4": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "AWS Signature Version 4, service execute-api",
            }},
        },
    }
