"""Errors-only files: the rows that failed, in the uploader's own format, ready to fix and resend.

For a file the portal submitted, the rows are taken from the file as it was uploaded (kept in
the blob store with the batch), with the same columns and cell values, and the error column
(`files.ERROR_COLUMN`, first) that the readers leave out, so the file can be corrected and
uploaded again as it is. JSON sources, and uploads made through the API or `push`, give a CSV
with the API's field names built from the stored payload. The files package writes both
(`files.write_errors_only`: formula cells neutralised, restored by the readers).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from catalog_ingest.domain.items import ADDITIONAL_IDS
from catalog_ingest.engine import file_check
from catalog_ingest.engine.file_source import SourceSpec, parse_mapping_text, read
from catalog_ingest.engine.report_queries import ReportQueries, payload_items
from catalog_ingest.engine.staging import Staged
from catalog_ingest.errors import disk_errors
from catalog_ingest.files.writers import (
    MEDIA_TYPES,
    TEMPLATE_COLUMNS,
    write_errors_only,
    write_template,
)
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal_batches

API_COLUMNS: Final = TEMPLATE_COLUMNS


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    content: bytes


def write(fmt: str, header: Sequence[str], rows: Iterable[tuple[dict[str, Any], str]]
          ) -> bytes:
    """The errors-only file in `fmt` (the files package's writer: error column first)."""
    return write_errors_only(fmt, header, rows)


def template(kind: str) -> Download:
    """The catalog template (the API's fields as columns, barcodes as text): csv or xlsx."""
    return Download(f"catalog-template.{kind}", MEDIA_TYPES[kind], write_template(kind))


def error_text(issues: Iterable[dict[str, Any]]) -> str:
    """A row's errors for its error cell: `CODE field: message`, joined by '; '."""
    return "; ".join(f"{i['code']} {i.get('field') or '-'}: {i['message']}"
                     for i in issues if i["severity"] == "ERROR")


def _source_rows(path: Path, spec: SourceSpec, fmt: str, wanted: dict[int, str]
                 ) -> tuple[tuple[str, ...], list[tuple[dict[str, Any], str]]]:
    header: tuple[str, ...] = ()
    picked: list[tuple[dict[str, Any], str]] = []
    for row in read(path, spec, fmt):
        header = row.header or header
        if row.line in wanted and isinstance(row.data, dict):
            picked.append((row.data, wanted[row.line]))
    return header, picked


def _from_source(path: Path, name: str, fmt: str, sheet: str | None, mapping_text: str,
                 wanted: dict[int, str]) -> Download | None:
    """Rows of the original file (None for JSON sources: they become CSV from the items)."""
    if fmt not in ("csv", "xlsx"):
        return None
    mapping = parse_mapping_text(mapping_text)
    header, rows = _source_rows(path, SourceSpec(name, fmt, sheet, mapping), fmt, wanted)
    stem = Path(name).stem or "catalog"
    return Download(f"{stem}-errors.{fmt}", MEDIA_TYPES[fmt], write(fmt, header, rows))


def items_csv(items: Sequence[tuple[dict[str, Any], str]], stem: str) -> Download:
    """Items as a CSV with the API's field names (additional ids as a JSON array)."""
    flat = []
    extras = False
    for item, errors in items:
        row = {k: v for k, v in item.items() if k != ADDITIONAL_IDS}
        if item.get(ADDITIONAL_IDS):
            extras = True
            row[ADDITIONAL_IDS] = msgspec.json.encode(item[ADDITIONAL_IDS]).decode()
        flat.append((row, errors))
    header = [*API_COLUMNS, *([ADDITIONAL_IDS] if extras else [])]
    return Download(f"{stem}-errors.csv", MEDIA_TYPES["csv"], write("csv", header, flat))


def for_upload(svc: Runtime, queries: ReportQueries, retailer_id: str,
               ingestion_id: str) -> Download:
    """The rejected rows of one upload, in the uploader's format where the portal has it."""
    upload = queries.upload(retailer_id, ingestion_id)
    rejected = queries.rejected(upload)
    with svc.db.read() as conn:
        member = portal_batches.membership(conn, ingestion_id)
        batch = portal_batches.get_batch(conn, member.batch_id, retailer_id) if member else None
    if member is not None and batch is not None and batch.format in ("csv", "xlsx"):
        lines: list[int] = msgspec.json.decode(svc.blobs.get(member.lines_key))
        wanted = {lines[r["index"]]: error_text(r["issues"]) for r in rejected
                  if 0 <= r["index"] < len(lines)}
        # The scratch copy is on the server's disk: a full one is "try again", not "went wrong".
        with disk_errors("errors-only file"), \
                tempfile.TemporaryDirectory(dir=svc.settings.data_dir) as tmp:
            path = Path(tmp) / "source"
            path.write_bytes(svc.blobs.get(batch.source_key))
            found = _from_source(path, batch.file_name, batch.format, batch.sheet,
                                 batch.mapping or "", wanted)
        if found is not None:
            return found
    items = payload_items(svc, upload)
    chosen = [(items[r["index"]], error_text(r["issues"])) for r in rejected
              if 0 <= r["index"] < len(items) and isinstance(items[r["index"]], dict)]
    return items_csv(chosen, f"upload-{ingestion_id[:8]}")


def for_check(staged: Staged) -> Download:
    """The rows a check refused, from the staged file, with their errors."""
    meta = staged.read_meta()
    wanted: dict[int, list[str]] = {}
    with open(staged.problems, "rb") as lines:
        decoder = msgspec.json.Decoder(file_check.Problem)
        for raw in lines:
            p = decoder.decode(raw)
            if p.severity == "ERROR":
                wanted.setdefault(p.line, []).append(f"{p.code} {p.column or '-'}: {p.message}")
    joined = {line: "; ".join(messages) for line, messages in wanted.items()}
    found = _from_source(staged.source, meta["name"], meta["format"], meta.get("sheet"),
                         meta.get("mapping") or "", joined)
    if found is not None:
        return found
    rows = [(data, joined[line]) for line, data in _json_rows(staged, meta) if line in joined]
    return items_csv(rows, Path(meta["name"]).stem or "catalog")


def _json_rows(staged: Staged, meta: dict[str, Any]) -> Iterable[tuple[int, dict[str, Any]]]:
    spec = SourceSpec(meta["name"], meta["format"], None, parse_mapping_text(meta.get("mapping")
                                                                             or ""))
    for row in read(staged.source, spec, meta["format"]):
        if isinstance(row.data, dict):
            item, _ = spec.mapping.apply(row.data, row.textual, row.typed)
            if isinstance(item, dict):
                yield row.line, item
