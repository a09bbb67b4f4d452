"""A portal staging folder that meets a full disk is a "try again", and leaves nothing behind."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from catalog_ingest.engine.staging import Owner, Staged, StagingArea
from catalog_ingest.errors import TransientError


def test_a_full_disk_while_staging_is_transient_and_leaves_no_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Staged, meta: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Staged, "write_meta", full)
    area = StagingArea(tmp_path)
    with pytest.raises(TransientError):
        area.create(Owner("ret-1", "user-1"))
    assert list(area.root.iterdir()) == []


def test_other_os_errors_are_not_disguised(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Staged, meta: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Staged, "write_meta", denied)
    with pytest.raises(PermissionError):
        StagingArea(tmp_path).create(Owner("ret-1", "user-1"))
