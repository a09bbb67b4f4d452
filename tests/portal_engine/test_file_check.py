"""The portal's file check and batch submit, through the real engine and database."""

from __future__ import annotations

import errno
import io
import time
import zipfile
from pathlib import Path

import pytest

from catalog_ingest.domain.barcodes import gs1_check_digit
from catalog_ingest.engine import batch_submit, file_check
from catalog_ingest.engine.file_source import FileRefused, SourceSpec, parse_mapping_text
from catalog_ingest.engine.report_queries import ReportFilter, ReportQueries
from catalog_ingest.engine.retention import DAY, Purged, purge
from catalog_ingest.engine.staging import Owner, StagedFileGone, StagingArea
from catalog_ingest.engine.worker import drain
from catalog_ingest.errors import BlobNotFound, TransientError
from catalog_ingest.files import ERROR_COLUMN
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal_batches, portal_reads
from tests.support.tenants import Tenant

HEADER = "item_sku,external_product_id,item_name,store_id,standard_price\n"


def ean(n: int) -> str:
    body = f"{400000000000 + n:012d}"
    return body + str(gs1_check_digit(body))


def stage(svc: Runtime, tenant: Tenant, text: str | bytes, name: str = "cat.csv",
          user: str = "u1") -> tuple[StagingArea, Owner, file_check.Staged]:
    area = StagingArea(svc.settings.data_dir)
    owner = Owner(tenant.retailer_id, user)
    staged = area.create(owner)
    staged.source.write_bytes(text.encode() if isinstance(text, str) else text)
    return area, owner, staged


def check(svc: Runtime, tenant: Tenant, text: str | bytes, name: str = "cat.csv",
          mapping: str = "") -> tuple[Owner, file_check.Staged, file_check.CheckSummary]:
    _, owner, staged = stage(svc, tenant, text, name)
    spec = SourceSpec(name, mapping=parse_mapping_text(mapping))
    return owner, staged, file_check.check_file(svc, tenant.retailer_id, staged, spec, mapping)


def seed(svc: Runtime, tenant: Tenant, rows: list[str]) -> None:
    owner, staged, summary = check(svc, tenant, HEADER + "".join(rows))
    assert summary.invalid == 0
    batch_submit.submit(svc, owner, staged)
    assert set(drain(svc)) == {"DONE"}


def test_check_lists_every_problem_and_the_effect_on_the_catalog(
        svc: Runtime, tenant: Tenant) -> None:
    seed(svc, tenant, [f"A,{ean(1)},Apple,store-01,1.00\n", f"B,{ean(2)},Pear,store-01,2.00\n"])
    text = HEADER + "".join([
        f"A,{ean(1)},Apple,store-01,1.00\n",        # 2: unchanged
        f"B,{ean(2)},Pear green,store-01,2.00\n",   # 3: updated
        f"C,{ean(3)},Plum,store-01,3.00\n",         # 4: created
        f"D,{ean(1)},Thief,store-01,1.00\n",        # 5: barcode held by A
        "E,4006381333934,Bad digit,store-01,1\n",   # 6: check digit
        f"F,{ean(6)},Price,store-01,4,99\n",        # 7: too many cells
        f"G,{ean(7)},Nowhere,store-99,1\n",         # 8: not our store
        f"C,{ean(8)},Again,store-01,1\n",           # 9: duplicate SKU
        f"H,{ean(9)},,store-01,1\n",                # 10: missing name
    ])
    _owner, staged, summary = check(svc, tenant, text)
    assert (summary.rows, summary.valid, summary.invalid) == (9, 3, 6)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 1)
    assert summary.conflicts == 1
    problems, more = file_check.read_problems(staged, "ERROR")
    assert not more
    found = [(p.line, p.column, p.code) for p in problems]
    assert found == [
        (5, "external_product_id", "BARCODE_CONFLICT"),
        (6, "external_product_id", "INVALID_CHECK_DIGIT"),
        (7, None, "UNREADABLE_ROW"),
        (8, "store_id", "UNKNOWN_STORE"),
        (9, "item_sku", "DUPLICATE_SKU_IN_UPLOAD"),
        (10, "item_name", "MISSING_FIELD"),
    ]
    assert "already belongs to SKU A" in problems[0].message
    assert problems[0].value == ean(1)


def test_submit_sends_valid_rows_through_the_intake_once(svc: Runtime, tenant: Tenant) -> None:
    text = HEADER + f"A,{ean(1)},Apple,store-01,1.00\nB,123,Bad,store-01,1\n"
    owner, staged, _summary = check(svc, tenant, text)
    first = batch_submit.submit(svc, owner, staged)
    again = batch_submit.submit(svc, owner, staged)
    assert first == again and len(first.ingestion_ids) == 1
    assert drain(svc) == ["DONE"]
    with svc.db.read() as conn:
        row = portal_reads.item(conn, "store-01", "A")
    assert row is not None and row.ingestion_id == first.ingestion_ids[0]
    view = batch_submit.get_batch(svc, tenant.retailer_id, first.batch_id)
    assert [m.ingestion_id for m in view.members] == first.ingestion_ids
    page = ReportQueries(svc).page(tenant.retailer_id, first.ingestion_ids[0], ReportFilter(), 1)
    assert [r["item_sku"] for r in page.rows] == ["A"]


def test_a_large_file_goes_as_uploads_of_at_most_10000_items(
        svc: Runtime, tenant: Tenant) -> None:
    rows = "".join(f"S{n:06d},{ean(n)},Item {n},store-01,1\n" for n in range(10_005))
    owner, staged, summary = check(svc, tenant, HEADER + rows)
    assert (summary.valid, summary.created, summary.uploads) == (10_005, 10_005, 2)
    submitted = batch_submit.submit(svc, owner, staged)
    assert len(submitted.ingestion_ids) == 2
    assert drain(svc) == ["DONE", "DONE"]


@pytest.mark.slow
def test_a_50000_row_file_is_checked_and_submitted_as_five_uploads(
        svc: Runtime, tenant: Tenant) -> None:
    """Issue 9: a 50,000-row file works (checked in chunks, sent as five 10,000-item uploads)."""
    rows = "".join(f"F{n:06d},{ean(n)},Item {n},store-01,1\n" for n in range(50_000))
    bad = "BAD,4.00638E+12,Mangled,store-01,1\n"
    owner, staged, summary = check(svc, tenant, HEADER + rows + bad)
    assert (summary.valid, summary.invalid, summary.created, summary.uploads) == (
        50_000, 1, 50_000, 5)
    submitted = batch_submit.submit(svc, owner, staged)
    assert len(submitted.ingestion_ids) == 5
    assert drain(svc) == ["DONE"] * 5
    with svc.db.read() as conn:
        assert portal_reads.item(conn, "store-01", "F049999") is not None
        assert portal_reads.item(conn, "store-01", "BAD") is None


def test_conflicts_carry_across_chunks(svc: Runtime, tenant: Tenant) -> None:
    rows = "".join(f"S{n:06d},{ean(n)},Item {n},store-01,1\n" for n in range(10_000))
    rows += f"LATE,{ean(5)},Late,store-01,1\n"
    _, staged, summary = check(svc, tenant, HEADER + rows)
    assert summary.conflicts == 1
    problems, _ = file_check.read_problems(staged, "ERROR")
    assert [(p.line, p.code) for p in problems] == [(10_002, "BARCODE_CONFLICT")]


@pytest.mark.parametrize(("content", "name", "needle"), [
    ("", "empty.csv", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "picture.csv", "not a catalog file"),
    ("sku,barcode,name,store,price\nA,1,x,s,1\n", "mine.csv",
     "no column of the file is an API field"),
    (HEADER, "header.csv", "has no items"),
    ("not a zip", "book.xlsx", "not an Excel workbook"),
])
def test_files_that_are_not_catalogs_are_refused_with_a_reason(
        svc: Runtime, tenant: Tenant, content: str | bytes, name: str, needle: str) -> None:
    with pytest.raises(FileRefused, match=needle):
        check(svc, tenant, content, name)


def test_a_mapping_names_the_source_columns_in_problems(svc: Runtime, tenant: Tenant) -> None:
    mapping = ('[columns]\nitem_sku = "sku"\nexternal_product_id = "barcode"\n'
               'item_name = "name"\nstore_id = "store"\n')
    text = f"sku,barcode,name,store\nA,{ean(1)},Apple,store-01\nB,12,Bad,store-01\n"
    _, staged, summary = check(svc, tenant, text, mapping=mapping)
    assert (summary.valid, summary.invalid) == (1, 1)
    problems, _ = file_check.read_problems(staged, "ERROR")
    assert [(p.line, p.column) for p in problems] == [(3, "barcode")]


def test_a_staged_file_opens_only_for_its_owner(svc: Runtime, tenant: Tenant) -> None:
    area, owner, staged = stage(svc, tenant, HEADER)
    assert area.open(staged.staging_id, owner).folder == staged.folder
    for other in (Owner(tenant.retailer_id, "u2"), Owner("ret-other", owner.user_id)):
        with pytest.raises(StagedFileGone):
            area.open(staged.staging_id, other)
    with pytest.raises(StagedFileGone):
        area.open("../../etc", owner)


def test_report_filters_pages_and_mmc_zip(svc: Runtime, tenant: Tenant) -> None:
    seed(svc, tenant, [f"A,{ean(1)},Apple,store-01,1\n"])
    # Conflicts are caught by the check, so make one the check cannot see: submitted first.
    text = HEADER + f"B,{ean(2)},=cmd|calc,store-01,1\nC,{ean(3)},Pear,store-02,1\n"
    owner, staged, _ = check(svc, tenant, text)
    seed(svc, tenant, [f"X,{ean(2)},Taker,store-01,1\n"])
    submitted = batch_submit.submit(svc, owner, staged)
    assert drain(svc) == ["DONE"]
    queries = ReportQueries(svc)
    ingestion = submitted.ingestion_ids[0]
    rejected = queries.page(tenant.retailer_id, ingestion, ReportFilter(status="REJECTED"), 1)
    assert [r["item_sku"] for r in rejected.rows] == ["B"]
    by_code = queries.page(tenant.retailer_id, ingestion, ReportFilter(code="BARCODE_CONFLICT"),
                           1)
    assert by_code.matched == 1
    by_store = queries.page(tenant.retailer_id, ingestion, ReportFilter(store_id="store-02"), 1)
    assert [r["item_sku"] for r in by_store.rows] == ["C"]
    by_field = queries.page(tenant.retailer_id, ingestion,
                            ReportFilter(field="external_product_id", severity="ERROR"), 1)
    assert [r["item_sku"] for r in by_field.rows] == ["B"]
    archive = zipfile.ZipFile(io.BytesIO(queries.mmc_zip(tenant.retailer_id, ingestion,
                                                         "store-01")))
    body = archive.read("MerchantCatalogReport.csv").decode()
    assert "B," in body and "'=cmd|calc" in body


def test_tmp_files_are_swept(svc: Runtime, tenant: Tenant, tmp_path: Path) -> None:
    area, _, staged = stage(svc, tenant, HEADER)
    area.sweep(now=10**12)
    assert not staged.folder.exists()


def xlsx(rows: list[list[object]], sheet: str = "Items") -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_sheet_is_checked_and_a_wrong_sheet_named(svc: Runtime, tenant: Tenant) -> None:
    content = xlsx([HEADER.strip().split(","), ["A", ean(1), "Apple", "store-01", "1"],
                    ["B", "123", "Bad", "store-01", "1"]])
    _, _owner, staged = stage(svc, tenant, content, "book.xlsx")
    summary = file_check.check_file(svc, tenant.retailer_id, staged,
                                    SourceSpec("book.xlsx", sheet="Items"))
    assert (summary.rows, summary.valid, summary.invalid) == (2, 1, 1)
    problems, _ = file_check.read_problems(staged, "ERROR")
    assert [p.line for p in problems] == [3]
    with pytest.raises(FileRefused, match=r"no sheet 'Nope'.*'Items'"):
        file_check.check_file(svc, tenant.retailer_id, staged, SourceSpec("book.xlsx",
                                                                          sheet="Nope"))


def test_spreadsheet_mangled_barcodes_are_named(svc: Runtime, tenant: Tenant) -> None:
    text = HEADER + "A,4.00638E+12,Sci,store-01,1\nB,4006381333931.0,Point,store-01,1\n"
    _, staged, summary = check(svc, tenant, text)
    assert summary.invalid == 2
    problems, _ = file_check.read_problems(staged, "ERROR")
    assert [p.code for p in problems] == ["SPREADSHEET_MANGLED_BARCODE"] * 2
    assert "scientific" in problems[0].message.lower()


def test_errors_only_files_round_trip_in_the_uploaders_format(svc: Runtime,
                                                              tenant: Tenant) -> None:
    from catalog_ingest.engine import errors_file

    seed(svc, tenant, [f"X,{ean(2)},Taker,store-01,1\n"])
    text = "sku;barcode;name;store\nA;123;=cmd;store-01\nB;" + ean(3) + ";Fine;store-01\n"
    mapping = ('[columns]\nitem_sku = "sku"\nexternal_product_id = "barcode"\n'
               'item_name = "name"\nstore_id = "store"\n')
    _, staged, _summary = check(svc, tenant, text, mapping=mapping)
    download = errors_file.for_check(staged)
    assert download.filename == "cat-errors.csv"
    lines = download.content.decode("utf-8-sig").splitlines()
    assert lines[0] == f"{ERROR_COLUMN},sku,barcode,name,store"
    assert lines[1].endswith(",A,123,'=cmd,store-01") and "INVALID_BARCODE" in lines[1]
    assert len(lines) == 2
    # Fixed and uploaded again as it is: the error column is ignored, the neutralised name read.
    fixed = download.content.replace(b",123,", f",{ean(4)},".encode())
    _, staged2, again = check(svc, tenant, fixed.decode("utf-8-sig"), mapping=mapping)
    assert (again.valid, again.invalid, again.warnings) == (1, 0, again.warnings)
    assert [p.code for p in file_check.read_problems(staged2, "ERROR")[0]] == []


def test_errors_only_file_of_a_processed_xlsx_upload(svc: Runtime, tenant: Tenant) -> None:
    import openpyxl

    from catalog_ingest.engine import errors_file

    content = xlsx([HEADER.strip().split(","), ["A", ean(1), "Apple", "store-01", "1"],
                    ["B", ean(2), "Pear", "store-01", "2"]])
    _, owner, staged = stage(svc, tenant, content, "book.xlsx")
    file_check.check_file(svc, tenant.retailer_id, staged, SourceSpec("book.xlsx"))
    seed(svc, tenant, [f"X,{ean(2)},Taker,store-01,1\n"])   # B's barcode is taken meanwhile
    submitted = batch_submit.submit(svc, owner, staged)
    assert drain(svc) == ["DONE"]
    download = errors_file.for_upload(svc, ReportQueries(svc), tenant.retailer_id,
                                      submitted.ingestion_ids[0])
    assert download.filename == "book-errors.xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(download.content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][1:6] == tuple(HEADER.strip().split(","))
    assert [r[1] for r in rows[1:]] == ["B"]
    assert "BARCODE_CONFLICT" in str(rows[1][0])


def test_errors_only_file_meeting_a_full_disk_is_a_try_again(
        svc: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog_ingest.engine import errors_file

    _, owner, staged = stage(svc, tenant, f"{HEADER}A,{ean(1)},Apple,store-01,1\n".encode(),
                             "book.csv")
    file_check.check_file(svc, tenant.retailer_id, staged, SourceSpec("book.csv"))
    submitted = batch_submit.submit(svc, owner, staged)
    assert drain(svc) == ["DONE"]

    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(TransientError, match="errors-only file"):
        errors_file.for_upload(svc, ReportQueries(svc), tenant.retailer_id,
                               submitted.ingestion_ids[0])


def test_text_no_database_can_store_is_refused(svc: Runtime, tenant: Tenant) -> None:
    def row(sku: str, code: str, name: str) -> str:
        return (f'{{"item_sku": "{sku}", "external_product_id": "{code}", "item_name": "{name}", '
                '"store_id": "store-01"}\n')

    text = row("A", ean(1), "Nul\\u0000name") + row("B", ean(2), "Back\\\\u0000slash") + \
        row("C", ean(3), "Lone \\ud800")
    _, staged, summary = check(svc, tenant, text, "items.jsonl")
    assert (summary.valid, summary.invalid) == (1, 2)
    problems = file_check.read_problems(staged, "ERROR")[0]
    # msgspec refuses a lone surrogate escape while reading: the row is unreadable.
    assert [(p.line, p.code) for p in problems] == [(1, "INVALID_TEXT"), (3, "UNREADABLE_ROW")]


def test_retention_takes_a_batch_and_its_files_once_its_uploads_are_gone(
        svc: Runtime, tenant: Tenant) -> None:
    owner, staged, _summary = check(svc, tenant, HEADER + f"A,{ean(1)},Apple,store-01,1.00\n")
    done = batch_submit.submit(svc, owner, staged)
    with svc.db.read() as conn:
        batch = portal_batches.get_batch(conn, done.batch_id, tenant.retailer_id)
        members = portal_batches.batch_uploads(conn, done.batch_id)
    assert batch is not None and len(members) == 1
    files = [batch.source_key, members[0].lines_key]
    assert all(svc.blobs.get(key) for key in files)
    now = time.time()
    assert purge(svc, now + 91 * DAY).batches == 0  # its upload is not finished: kept
    assert drain(svc) == ["DONE"]
    assert purge(svc, now + 89 * DAY).batches == 0  # not old enough
    assert purge(svc, now + 91 * DAY) == Purged(uploads=1, payloads=0, notifications=0,
                                                batches=1)
    with svc.db.read() as conn:
        assert portal_batches.get_batch(conn, done.batch_id, tenant.retailer_id) is None
        assert portal_batches.batch_uploads(conn, done.batch_id) == []
    for key in files:
        with pytest.raises(BlobNotFound):
            svc.blobs.get(key)
