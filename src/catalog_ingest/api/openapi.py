"""The OpenAPI 3.1 description, built from the msgspec request models (one source of truth)."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from catalog_ingest.engine import requests as models

_MESSAGE = {"type": "object", "required": ["message"],
            "properties": {"message": {"type": "string"}}}
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
_STRING = {"type": "string"}
_OPTIONAL_STRING_FIELDS = ("external_product_id_type", "standard_price", "brand_name",
                           "product_tax_code", "product_category", "product_subcategory")
_ITEM = {
    "type": "object",
    "required": ["item_sku", "external_product_id", "item_name", "store_id", "status",
                 "updatedAt", "ingestionId"],
    "properties": {
        **{name: _STRING for name in ("item_sku", "external_product_id", "item_name",
                                      "store_id", *_OPTIONAL_STRING_FIELDS)},
        "additional_external_product_information": {"type": "array", "items": {
            "type": "object", "required": ["external_product_id"],
            "properties": {"external_product_id": _STRING, "external_product_id_type": _STRING},
        }},
        "status": {"enum": ["ACTIVE", "ARCHIVED"]},
        "updatedAt": {"type": "string", "format": "date-time"},
        "ingestionId": _STRING,
    },
}
_UPLOAD_ENTRY = {
    "type": "object",
    "required": ["ingestionId", "processingStatus", "submittedAt", "completedAt", "itemCount",
                 "storeIds"],
    "properties": {
        "ingestionId": {"type": "string", "format": "uuid"},
        "processingStatus": {"enum": ["INQUEUE", "INPROGRESS", "DONE", "CANCELLED", "FATAL"]},
        "submittedAt": {"type": "string", "format": "date-time"},
        "completedAt": {"type": ["string", "null"], "format": "date-time"},
        "itemCount": {"type": "integer", "minimum": 1},
        "storeIds": {"type": "array", "items": _STRING},
    },
}
_NEXT = {"type": "string", "minLength": 1}
_UPLOADS_PAGE = {"type": "object", "required": ["catalogUploads"], "properties": {
    "catalogUploads": {"type": "array", "items": _UPLOAD_ENTRY}, "nextToken": _NEXT}}
_ITEMS = {"type": "object", "required": ["catalogItems"],
          "properties": {"catalogItems": {"type": "array", "items": _ITEM}}}
_ITEMS_PAGE = {"type": "object", "required": ["catalogItems"], "properties": {
    "catalogItems": {"type": "array", "items": _ITEM}, "nextToken": _NEXT}}
_LOOKUP = {"type": "object", "required": ["catalogItem"], "properties": {"catalogItem": _ITEM}}

# (path, request model, success status, success schema, extra error statuses)
_OPERATIONS: list[tuple[str, type, str, dict[str, Any], tuple[str, ...]]] = [
    ("upload", models.UploadRequest, "201", _INGESTION, ()),
    ("getCatalogUploadStatus", models.IngestionRequest, "200", _STATUS, ()),
    ("archive", models.ArchiveRequest, "201", _INGESTION, ()),
    ("cancelCatalogUpload", models.IngestionRequest, "200", _CANCELLED, ("409",)),
    ("listCatalogUploads", models.ListUploadsRequest, "200", _UPLOADS_PAGE, ()),
    ("getCatalogItems", models.GetItemsRequest, "200", _ITEMS, ()),
    ("listCatalogItems", models.ListItemsRequest, "200", _ITEMS_PAGE, ()),
    ("lookupBarcode", models.LookupBarcodeRequest, "200", _LOOKUP, ("404",)),
]
_EXTRA_DESCRIPTIONS = {"404": "Not found", "409": "Conflict"}


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
        responses[status] = _json(_ERRORMSG, _EXTRA_DESCRIPTIONS[status])
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
    paths.update(_mmc_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "catalog-ingest Catalog API", "version": "1.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"sigv4": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "AWS Signature Version 4, service execute-api",
            }, **_MMC_SECURITY_SCHEMES},
        },
    }


# The Merchant-Center-compatible Status resource and the rejection-report link it hands out.
_MMC_BASE = "/shopping/v9.1/bmc/{bmcMerchantId}/catalogs/{catalogId}"
_MMC_SECURITY_SCHEMES = {
    name: {"type": "apiKey", "in": "header", "name": name, "description": description}
    for name, description in (
        ("AuthenticationToken", "Issued per retailer by `admin create-mmc-token`"),
        ("DeveloperToken", "Issued together with the AuthenticationToken"),
    )
}
_MMC_ERRORS = {"type": "object", "required": ["Errors"], "properties": {"Errors": {
    "type": "array", "items": {"type": "object", "required": ["Code", "Message"],
                               "properties": {"Code": _STRING, "Message": _STRING}}}}}
_MMC_STATUS = {
    "type": "object", "required": ["catalogId", "publishedCount", "rejectedCount"],
    "properties": {
        **{name: {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}
           for name in ("catalogId", "publishedCount", "rejectedCount")},
        "rejectionReportUrl": {"type": "string", "format": "uri"},
    },
}
_ULONG_PATH = [{"name": name, "in": "path", "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}
               for name in ("bmcMerchantId", "catalogId")]
_ACTIVITY = {"WebRequestActivityId": {"required": True, "description": "A fresh id per answer",
                                      "schema": {"type": "string", "format": "uuid"}}}


def _mmc_answer(description: str, json_schema: dict[str, Any], xml: bool = True
                ) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": json_schema}}
    if xml:
        content["application/xml"] = {"schema": _STRING}
    return {"description": description, "headers": _ACTIVITY, "content": content}


def _mmc_paths() -> dict[str, Any]:
    errors = {
        "400": _mmc_answer("Bad query value or header, or expired/altered report URL",
                           _MMC_ERRORS),
        "401": _mmc_answer("Missing or invalid AuthenticationToken/DeveloperToken", _MMC_ERRORS),
        "404": _mmc_answer("Merchant or catalog unknown, or not the token's", _MMC_ERRORS),
        "500": _mmc_answer("Server error", _MMC_ERRORS),
    }
    customer = [{"name": name, "in": "header", "required": False,
                 "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}
                for name in ("CustomerId", "CustomerAccountId")]
    status = {
        "operationId": "getCatalogStatus",
        "security": [{"AuthenticationToken": [], "DeveloperToken": []}],
        "parameters": [*_ULONG_PATH, *customer, {"name": "alt", "in": "query", "required": False,
                                                 "schema": {"enum": ["json", "xml"]}}],
        "responses": {"200": _mmc_answer("Catalog status", _MMC_STATUS), **errors},
    }
    zip_ok = {"description": "ZIP holding MerchantCatalogReport.csv", "headers": _ACTIVITY,
              "content": {"application/x-zip-compressed": {
                  "schema": {"type": "string", "format": "binary"}}}}
    report = {
        "operationId": "getRejectionReport",
        "description": "The pre-signed link given as rejectionReportUrl (valid 60 minutes).",
        "security": [],
        "parameters": [*_ULONG_PATH, *[
            {"name": name, "in": "query", "required": True, "schema": _STRING}
            for name in ("expires", "signature")]],
        "responses": {"200": zip_ok, **{code: {**answer, "content": {
            "application/json": answer["content"]["application/json"]}}
            for code, answer in errors.items() if code != "401"}},
    }
    return {f"{_MMC_BASE}/status": {"get": status},
            f"{_MMC_BASE}/rejection-report": {"get": report}}
