"""Blob store in a local folder: atomic, fsynced writes (temp file + rename)."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from catalog_ingest.errors import BlobNotFound, InvalidInput, disk_errors

#: Synchronised data writes where the platform has them (else a write, then fsync).
_DSYNC = getattr(os, "O_DSYNC", 0)


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise InvalidInput(f"blob key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes, writing: threading.Event | None = None) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with disk_errors("blob folder"):
            try:
                self._write(path, tmp, data, writing)
            except BaseException:
                tmp.unlink(missing_ok=True)  # a full disk must not keep half-written files
                raise

    @staticmethod
    def _write(path: Path, tmp: Path, data: bytes, writing: threading.Event | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_DSYNC: each write returns once its data is on disk, so the whole write and its
        # flush are one system call, all of it without the GIL (write, then fsync, would
        # need the GIL back in between, which a caller decoding the same body holds).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _DSYNC, 0o600)
        try:
            if writing is not None:
                writing.set()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if not _DSYNC:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash too
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            with disk_errors("blob folder"):
                return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"blob folder {self.root} is not writable")
