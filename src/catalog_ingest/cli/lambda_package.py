"""`catalog-ingest package-lambda OUT.zip`: the Lambda functions' code zip, toolkit only.

The zip holds what the handlers import and nothing else: the toolkit part of this package
(``catalog_ingest`` with ``errors``, ``domain``, ``client`` and the shared ``files``; no
server code, so a server import creeping into the handlers fails at once) and the toolkit's
third-party requirements, installed by ``pip install --target`` for the Lambda runtime's Python
and platform. boto3 and botocore are left out: the Lambda Python runtime has them.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import typer

#: Lambda's limits for a function's code: the zip, and what it unpacks to (with layers).
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
#: What the runtime provides (boto3 and what it needs).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3",
                    "six"}
#: The toolkit's parts of the package (everything else is the service).
TOOLKIT_PARTS = ("__init__.py", "py.typed", "errors.py", "domain", "client", "files")
#: The handlers' third-party imports, while the base install still carries the server's
#: requirements (issue 8 splits them into the `server` extra; then the base is the toolkit).
TOOLKIT_REQUIREMENTS = {"httpx", "msgspec", "cryptography", "openpyxl", "python-calamine"}
DISTRIBUTION = "catalog-ingest"
_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)")


def toolkit_requirements() -> list[str]:
    """The base requirements the Lambda needs, with this distribution's version bounds."""
    declared = importlib.metadata.requires(DISTRIBUTION) or []
    split = "server" in (importlib.metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])
    out = []
    for text in declared:
        spec, _, marker = text.partition(";")
        if "extra" in marker:
            continue
        found = _NAME.match(spec.strip())
        if found is None:
            continue
        name = re.sub(r"[-_.]+", "-", found.group(1)).lower()
        if name in RUNTIME_PROVIDED:
            continue
        if split or name in TOOLKIT_REQUIREMENTS:
            out.append(re.sub(r"\[.*?\]", "", spec.strip()).replace(" ", ""))
    return out


def default_source() -> str:
    """This checkout when running from one (src layout), else this version from the index."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "src" / "catalog_ingest").is_dir():
        return str(root)
    return f"{DISTRIBUTION}=={importlib.metadata.version(DISTRIBUTION)}"


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stderr[-4000:]}")


def build(out: Path, *, source: str | None = None, python_version: str = "3.12",
          platform: str = "manylinux2014_x86_64") -> tuple[int, int]:
    """Build the zip at ``out``; returns (zipped bytes, unzipped bytes)."""
    with tempfile.TemporaryDirectory(prefix="catalog-ingest-lambda-") as tmp:
        staging, target = Path(tmp) / "package", Path(tmp) / "target"
        _pip("--no-deps", "--no-compile", "--target", str(staging), source or default_source())
        requirements = toolkit_requirements()
        if requirements:
            _pip("--target", str(target), "--no-compile", "--only-binary=:all:",
                 "--implementation", "cp", "--python-version", python_version,
                 "--platform", platform, *requirements)
        else:
            target.mkdir()
        package = target / "catalog_ingest"
        package.mkdir()
        for part in TOOLKIT_PARTS:
            found = staging / "catalog_ingest" / part
            if found.is_dir():
                shutil.copytree(found, package / part,
                                ignore=shutil.ignore_patterns("__pycache__"))
            elif found.is_file():
                shutil.copy2(found, package / part)
        for leftover in list(target.glob("bin")) + list(target.rglob("__pycache__")):
            shutil.rmtree(leftover, ignore_errors=True)
        return _zip(target, out)


def _zip(root: Path, out: Path) -> tuple[int, int]:
    out.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(root).as_posix())
    partial.replace(out)
    return out.stat().st_size, unzipped


def package_lambda(
    out: Path = typer.Argument(..., dir_okay=False, help="The zip to write."),
    source: str = typer.Option(None, "--source",
                               help="What to install: a checkout, a wheel or a requirement "
                                    "(default: this checkout, else this version)."),
    python_version: str = typer.Option("3.12", "--python-version",
                                       help="The Lambda runtime's Python (template: 3.12)."),
    platform: str = typer.Option("manylinux2014_x86_64", "--platform",
                                 help="Wheel platform: manylinux2014_x86_64 or "
                                      "manylinux2014_aarch64 (arm64 functions)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Build the Lambda functions' zip (toolkit only, without boto3) and print its size."""
    try:
        zipped, unzipped = build(out, source=source, python_version=python_version,
                                 platform=platform)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    within = zipped <= MAX_ZIPPED and unzipped <= MAX_UNZIPPED
    if as_json:
        typer.echo(json.dumps({"path": str(out), "zipped_bytes": zipped,
                               "unzipped_bytes": unzipped, "within_limits": within}))
    else:
        typer.echo(f"{out}: {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped "
                   f"(Lambda limits: 50 MB zipped, 250 MB unzipped)")
    if not within:
        typer.echo("error: the zip is over Lambda's limits", err=True)
        raise typer.Exit(1)
