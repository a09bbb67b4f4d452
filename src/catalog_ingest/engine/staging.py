"""A private area under the data dir for files between their check and their submission.

Each checked file gets a folder named by a random id (128 bits, URL-safe) holding the file as
uploaded, the rows that passed the check, the problems found and a small metadata document.
The metadata names its owner (retailer and user): an id is only ever opened for the owner, so
guessing or replaying another user's id gets nothing. Folders older than `MAX_AGE` are removed
whenever a new one is made.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from catalog_ingest.errors import NotFound, disk_errors

MAX_AGE: Final = 6 * 3600
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
META, SOURCE, VALID, PROBLEMS = "meta.json", "source", "valid.jsonl", "problems.jsonl"


class StagedFileGone(NotFound):
    """The checked file is not (or no longer) there for this user: check it again."""


@dataclass(frozen=True)
class Owner:
    retailer_id: str
    user_id: str


@dataclass(frozen=True)
class Staged:
    """One staged folder: its id and paths."""

    staging_id: str
    folder: Path

    @property
    def source(self) -> Path:
        return self.folder / SOURCE

    @property
    def valid(self) -> Path:
        return self.folder / VALID

    @property
    def problems(self) -> Path:
        return self.folder / PROBLEMS

    def read_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = msgspec.json.decode((self.folder / META).read_bytes())
        return meta

    def write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.folder / (META + ".tmp")
        tmp.write_bytes(msgspec.json.encode(meta))
        tmp.replace(self.folder / META)


class StagingArea:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "portal-staging"

    def create(self, owner: Owner) -> Staged:
        """A new empty folder for `owner` (and old folders swept)."""
        self.sweep()
        self.root.mkdir(parents=True, exist_ok=True)
        staging_id = secrets.token_urlsafe(16)
        folder = self.root / staging_id
        with disk_errors("portal staging"):  # a full disk: "try again", not "went wrong"
            try:
                folder.mkdir(mode=0o700)
                staged = Staged(staging_id, folder)
                staged.write_meta({"retailer_id": owner.retailer_id, "user_id": owner.user_id,
                                   "created_at": time.time(), "state": "RECEIVED"})
            except OSError:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        return staged

    def open(self, staging_id: str, owner: Owner) -> Staged:
        """The folder `staging_id` when it exists and belongs to `owner`; else StagedFileGone."""
        gone = StagedFileGone("This checked file is no longer available: upload and check it "
                              "again.")
        if not _ID.fullmatch(staging_id):
            raise gone
        staged = Staged(staging_id, self.root / staging_id)
        try:
            meta = staged.read_meta()
        except (OSError, msgspec.DecodeError):
            raise gone from None
        if meta.get("retailer_id") != owner.retailer_id or meta.get("user_id") != owner.user_id:
            raise gone
        return staged

    def discard(self, staged: Staged) -> None:
        shutil.rmtree(staged.folder, ignore_errors=True)

    def sweep(self, now: float | None = None) -> None:
        """Remove folders older than MAX_AGE."""
        if not self.root.is_dir():
            return
        limit = (now or time.time()) - MAX_AGE
        for folder in self.root.iterdir():
            try:
                if folder.stat().st_mtime < limit:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue
