"""`catalog-ingest push` of an Excel workbook end to end, against a real `catalog-ingest serve`:
the shipped sample catalog (four rows faulty on purpose) in the tenant's stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_push_e2e import Pusher, Rig, reports, start_rig
from tests.support.examples import make_samples

pytestmark = pytest.mark.xdist_group("push-xlsx-e2e")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    started = start_rig(tmp_path_factory.mktemp("push-xlsx-e2e"))
    yield started
    started.server.stop()
    started.svc.close()


def test_push_of_the_sample_workbook(rig: Rig, tmp_path: Path) -> None:
    tenant, stores = rig.tenant("Workbook Retailer")
    script = make_samples()
    rows = script.rows()
    for row in rows:  # the sample's demo stores become this tenant's
        row["store_id"] = stores[int(row["store_id"][-1]) - 1]
    path = tmp_path / "catalog.xlsx"
    script.write_xlsx(path, rows)
    pusher = Pusher(tmp_path, tenant, rig.server.url)
    code, summary = pusher.run(str(path), "--results-dir", str(tmp_path / "r"))
    assert (code, summary["status"]) == (1, "DONE")  # 1: four rows are invalid
    for store in stores:
        counts = summary["stores"][store]
        assert (counts["invalid"], counts["sent"], counts["accepted"]) == (2, 8, 8)
    got = reports(tmp_path / "r")
    accepted = {x["item_sku"] for r in got for x in r["itemResults"]
                if x["status"] == "ACCEPTED"}
    assert "DS1-0001" in accepted and "DS1-0004" not in accepted and len(accepted) == 16
    assert any(x["item_sku"] == "DS2-0002" for r in got for x in r["itemResults"])
    invalid = (tmp_path / "r" / "invalid-rows.csv").read_text()
    for code_name in ("INVALID_CHECK_DIGIT", "SPREADSHEET_MANGLED_BARCODE", "INVALID_PRICE",
                      "DUPLICATE_SKU_IN_UPLOAD"):
        assert code_name in invalid
    with open(tmp_path / "r" / "summary.json") as f:
        assert json.load(f)["status"] == "DONE"
