"""The layering of docs/architecture.md holds: the import-linter contracts are kept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert found, "import-linter is not installed (it is in the test extra)"
    return found


def test_import_contracts_are_kept() -> None:
    out = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_a_reverse_import_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of the package where storage imports the engine is refused."""
    package = tmp_path / "src" / "catalog_ingest"
    shutil.copytree(ROOT / "src" / "catalog_ingest", package)
    (package / "storage" / "upward.py").write_text("import catalog_ingest.engine.intake\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    out = subprocess.run([_lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={"PYTHONPATH": str(tmp_path / "src")})
    assert out.returncode != 0
    assert "Layers point one way BROKEN" in out.stdout
