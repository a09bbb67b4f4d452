"""Errors-only files: the rows that failed, in the uploader's own format, ready to fix and resend.

For a file the portal submitted, the rows are taken from the file as it was uploaded (kept in
the blob store with the batch), with the same columns, sheet layout and cell values, and one
column added at the end (`files.records.ERROR_COLUMN`) that the readers leave out, so the file
can be corrected and uploaded again as it is. JSON sources, and uploads made through the API
or `push`, give a CSV with the API's field names built from the stored payload. Every text cell
that a spreadsheet would run as a formula is neutralised (`domain.spreadsheet.neutralise`;
the readers undo it).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from catalog_ingest.domain.items import ADDITIONAL_IDS, OPTIONAL_FIELDS, REQUIRED_FIELDS
from catalog_ingest.domain.spreadsheet import neutralise
from catalog_ingest.engine import file_check
from catalog_ingest.engine.file_source import SourceSpec, parse_mapping_text, read
from catalog_ingest.engine.report_queries import ReportQueries, payload_items
from catalog_ingest.engine.staging import Staged
from catalog_ingest.files.records import ERROR_COLUMN
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal_batches

CSV_TYPE: Final = "text/csv; charset=utf-8"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
API_COLUMNS: Final = (REQUIRED_FIELDS[0], REQUIRED_FIELDS[1], OPTIONAL_FIELDS[0],
                      *REQUIRED_FIELDS[2:], *OPTIONAL_FIELDS[1:])


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    content: bytes


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(value)
    return value


def write_csv(header: Sequence[str], rows: Iterable[tuple[dict[str, Any], str]],
              delimiter: str = ",") -> bytes:
    """CSV (UTF-8 with a BOM, so spreadsheets read it as UTF-8) with the error column last."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([*header, ERROR_COLUMN])
    for data, errors in rows:
        writer.writerow([_text(_cell(data.get(c, ""))) for c in header] + [neutralise(errors)])
    return out.getvalue().encode("utf-8-sig", errors="replace")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def write_xlsx(header: Sequence[str], rows: Iterable[tuple[dict[str, Any], str]],
               sheet: str | None) -> bytes:
    """A workbook with one sheet (the source's name) and the error column last."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet or "Items")
    ws.append([*header, ERROR_COLUMN])
    for data, errors in rows:
        ws.append([_cell(data.get(c)) for c in header] + [neutralise(errors)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
    if fmt == "xlsx":
        return Download(f"{stem}-errors.xlsx", XLSX_TYPE, write_xlsx(header, rows, sheet))
    delimiter = mapping.source.delimiter or _sniffed_delimiter(path)
    return Download(f"{stem}-errors.csv", CSV_TYPE, write_csv(header, rows, delimiter))


def _sniffed_delimiter(path: Path) -> str:
    from catalog_ingest.files.sources import sniff_delimiter

    with open(path, encoding="utf-8", errors="replace") as text:
        return sniff_delimiter(text.readline())


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
    return Download(f"{stem}-errors.csv", CSV_TYPE, write_csv(header, flat))


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
        with tempfile.TemporaryDirectory(dir=svc.settings.data_dir) as tmp:
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
