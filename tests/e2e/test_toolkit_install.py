"""End to end: the toolkit installed alone (no `[server]` extra) pushes a file to a real service.

One fresh venv per run (module fixture): the project is built and installed into it from the
package index the machine uses, without the server's dependencies. The service runs from the
test environment (which has the extra); the push runs with the venv's own `catalog-ingest`.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

from catalog_ingest.cli.main import SERVER_MODULES
from catalog_ingest.runtime import open_runtime
from catalog_ingest.settings import Settings
from tests.e2e.test_notify_http import clean_env
from tests.support.markers import BUILDS_THE_CHECKOUT
from tests.support.server import ServerProcess
from tests.support.tenants import make_tenant

pytestmark = [pytest.mark.install, BUILDS_THE_CHECKOUT]

ROOT = Path(__file__).resolve().parents[2]
CSV = """item_sku,external_product_id,item_name,store_id,standard_price
TK-1,4006381333931,Pen,tk-store-1,1.99
TK-2,036000291452,Paper,tk-store-1,4.50
TK-3,012345678905,Ink,tk-store-1,12
"""


def _run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout,
                          env=env, cwd=cwd)


@pytest.fixture(scope="module")
def toolkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <this checkout>` (the base install only); its bin dir."""
    where = tmp_path_factory.mktemp("toolkit-venv") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    bin_dir = where / "bin"
    done = _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
                timeout=900, cwd=where.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return bin_dir


def test_the_toolkit_has_no_server_dependencies(toolkit: Path) -> None:
    probe = ("import importlib.util, json, sys\n"
             "import catalog_ingest.client, catalog_ingest.client.push, catalog_ingest.cli.main\n"
             f"mods = {list(SERVER_MODULES)!r}\n"
             "print(json.dumps({'absent': [m for m in mods if importlib.util.find_spec(m) is None],"
             " 'loaded': sorted(m for m in sys.modules if m.startswith('catalog_ingest.'))}))")
    done = _run([str(toolkit / "python"), "-c", probe], timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["absent"] == list(SERVER_MODULES)
    server_side = ("catalog_ingest.runtime", "catalog_ingest.storage", "catalog_ingest.engine",
                   "catalog_ingest.api", "catalog_ingest.app", "catalog_ingest.notify")
    assert [m for m in found["loaded"] if m.startswith(server_side)] == []
    importing = _run([str(toolkit / "python"), "-c", "import catalog_ingest.runtime"],
                     timeout=120)
    assert importing.returncode != 0
    assert "ModuleNotFoundError" in importing.stderr


@pytest.mark.parametrize("argv", [["serve"], ["worker"], ["migrate"],
                                  ["admin", "create-retailer", "x"]])
def test_server_commands_say_what_to_install(toolkit: Path, argv: list[str]) -> None:
    done = _run([str(toolkit / "catalog-ingest"), *argv], timeout=120)
    assert done.returncode == 2
    assert (f"catalog-ingest {argv[0]} needs the server install: "
            "pip install 'catalog-ingest[server]'") in done.stderr


def test_the_toolkit_alone_pushes_to_a_running_service(toolkit: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    svc = open_runtime(Settings(data_dir=data_dir))
    tenant = make_tenant(svc, "Toolkit", ["tk-store-1"])
    svc.close()
    server = ServerProcess(data_dir)
    server.env = clean_env(data_dir)
    server.start()
    source = tmp_path / "catalog.csv"
    source.write_text(CSV)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_INGEST_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID=tenant.access_key_id,
               AWS_SECRET_ACCESS_KEY=tenant.secret_access_key, AWS_REGION="us-east-1",
               HOME=str(tmp_path), PYTHONPATH="")
    try:
        done = _run([str(toolkit / "catalog-ingest"), "push", str(source), "--endpoint",
                     server.url, "--tracking-db", str(tmp_path / "track.db"), "--results-dir",
                     str(tmp_path / "results"), "--no-progress", "--json"],
                    env=env, timeout=300, cwd=tmp_path)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "DONE"
    assert summary["totals"]["accepted"] == 3
    assert summary["chunks"]["done"] == 1
