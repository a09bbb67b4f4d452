"""The demo tenant `make run` provisions once: a retailer, two stores, a key, and what to try."""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path

import typer

from catalog_ingest.engine import accounts
from catalog_ingest.errors import Conflict
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import admin

DEMO_FILE = "demo-credentials.json"
DEMO_PORTAL_EMAIL = "demo@example.com"


def provision_demo(svc: Runtime, base_url: str) -> dict[str, str]:
    """Create the demo tenant on first use (kept in the data dir), then print how to use it."""
    path = svc.settings.data_dir / DEMO_FILE
    if path.exists():
        demo: dict[str, str] = json.loads(path.read_text())
    else:
        with svc.db.write() as conn:
            retailer_id = admin.create_retailer(conn, "Demo Retailer")
            admin.add_store(conn, retailer_id, "demo-store-1", "Demo Store 1")
            admin.add_store(conn, retailer_id, "demo-store-2", "Demo Store 2")
            key_id, secret = admin.create_key(conn, svc.settings.secret_key, retailer_id)
        demo = {"retailer_id": retailer_id, "access_key_id": key_id, "secret_access_key": secret,
                "stores": "demo-store-1,demo-store-2"}
        path.write_text(json.dumps(demo, indent=2))
        path.chmod(0o600)
    if "portal_email" not in demo:  # also for a demo tenant made before the portal existed
        demo.update(_provision_portal_user(svc, demo["retailer_id"]))
        path.write_text(json.dumps(demo, indent=2))
    _print(demo, base_url)
    _print_portal(demo, base_url)
    return demo


def _provision_portal_user(svc: Runtime, retailer_id: str) -> dict[str, str]:
    """An admin portal user of the demo retailer, with a fresh random password."""
    password = secrets.token_urlsafe(12)
    try:
        accounts.create_user(svc, retailer_id, DEMO_PORTAL_EMAIL, password, "admin")
    except Conflict:  # the file was lost but the user is still there: it keeps its password
        return {"portal_email": DEMO_PORTAL_EMAIL, "portal_password": "(unchanged; see the "
                "earlier output or create another user with `admin create-user`)"}
    return {"portal_email": DEMO_PORTAL_EMAIL, "portal_password": password}


def _print_portal(demo: dict[str, str], base_url: str) -> None:
    typer.echo(f"""Or use the portal in a browser:
  {base_url}/portal/
  e-mail:   {demo['portal_email']}
  password: {demo['portal_password']}
""")


def _command() -> str:
    """How to run this very `catalog-ingest` from here: `make run` does not activate the venv,
    so the printed line names the venv's command when it is not on PATH."""
    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if shutil.which("catalog-ingest") or here is None or here.name != "catalog-ingest":
        return "catalog-ingest"
    try:
        return str(here.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(here.resolve())


def _print(demo: dict[str, str], base_url: str) -> None:
    key, secret = demo["access_key_id"], demo["secret_access_key"]
    body = ('{"catalogItems":[{"item_sku":"SKU-1","external_product_id":"4006381333931",'
            '"item_name":"Ballpoint pen","store_id":"demo-store-1","standard_price":"1.99"}]}')
    typer.echo(f"""
catalog-ingest demo tenant (kept in the data directory)
  retailer_id:       {demo['retailer_id']}
  stores:            {demo['stores']}
  access_key_id:     {key}
  secret_access_key: {secret}

Try an upload:
  curl -s --aws-sigv4 "aws:amz:us-east-1:execute-api" --user '{key}:{secret}' \\
    -H 'content-type: application/json' -d '{body}' {base_url}/v1/catalog/upload

Then its status (put the ingestionId in):
  curl -s --aws-sigv4 "aws:amz:us-east-1:execute-api" --user '{key}:{secret}' \\
    -H 'content-type: application/json' -d '{{"ingestionId":"<id>"}}' \\
    {base_url}/v1/catalog/getCatalogUploadStatus

Or push a CSV with the toolkit:
  AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY='{secret}' \\
    {_command()} push examples/sample-catalog.csv --endpoint {base_url}
""")
