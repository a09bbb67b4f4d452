"""`catalog-ingest package-lambda`: the zip is within Lambda's limits and its handlers import in a
clean interpreter that has only the zip and what the Lambda runtime has (boto3, botocore)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.support.markers import BUILDS_THE_CHECKOUT

pytestmark = [pytest.mark.slow, BUILDS_THE_CHECKOUT]

#: What the Lambda Python runtime provides, copied from this environment.
RUNTIME = ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"]

CHECK = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import catalog_ingest
from catalog_ingest.client.aws import poll_handler, s3_handler, sqs_handler
import cryptography.hazmat.bindings._rust, msgspec._core, openpyxl, python_calamine  # native parts
missing = []
for name in ("fastapi", "sqlalchemy", "uvicorn", "catalog_ingest.engine", "catalog_ingest.api",
             "catalog_ingest.cli"):
    try:
        __import__(name)
    except ImportError:
        missing.append(name)
server = sorted(m for m in sys.modules if m.startswith(("catalog_ingest.engine",
    "catalog_ingest.storage", "catalog_ingest.api", "catalog_ingest.runtime")))
answer = s3_handler({"Records": []}, None)
print(json.dumps({"package": catalog_ingest.__file__, "missing": missing, "server": server,
                  "answer": answer}))
"""


def test_the_zip_is_toolkit_only_within_limits_and_its_handlers_import(tmp_path: Path) -> None:
    out = tmp_path / "function.zip"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    done = subprocess.run([sys.executable, "-m", "catalog_ingest", "package-lambda", str(out),
                           "--python-version", version, "--json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["within_limits"] is True
    assert printed["zipped_bytes"] == out.stat().st_size < 50 * 1024 * 1024
    assert printed["unzipped_bytes"] < 250 * 1024 * 1024
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "function")
    tops = {n.split("/", 1)[0] for n in names}
    assert {"catalog_ingest", "httpx", "msgspec", "cryptography", "openpyxl",
            "python_calamine"} <= tops
    assert not tops & {"boto3", "botocore", "fastapi", "sqlalchemy", "psycopg"}
    assert not any(n.startswith(("catalog_ingest/engine/", "catalog_ingest/api/")) for n in names)

    runtime = tmp_path / "runtime"
    for name in RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, runtime / name)
        else:
            runtime.mkdir(exist_ok=True)
            shutil.copy2(origin, runtime / origin.name)
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "CATALOG_INGEST_ENDPOINT": "https://api.example", "CATALOG_INGEST_TRACKING_TABLE": "t",
           "CATALOG_INGEST_RESULTS_BUCKET": "b"}
    # -I -S: no environment, no user or venv site-packages: the zip and the runtime only.
    run = subprocess.run([sys.executable, "-I", "-S", "-c", CHECK, str(tmp_path / "function"),
                          str(runtime)], capture_output=True, text=True, env=env, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["package"].startswith(str(tmp_path / "function"))
    assert set(result["missing"]) == {"fastapi", "sqlalchemy", "uvicorn",
                                      "catalog_ingest.engine", "catalog_ingest.api",
                                      "catalog_ingest.cli"}
    assert result["server"] == []
    assert result["answer"] == {"pushes": []}
