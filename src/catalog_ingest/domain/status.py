"""Processing statuses of an upload and which of them are terminal."""

from __future__ import annotations

from enum import StrEnum


class ProcessingStatus(StrEnum):
    INQUEUE = "INQUEUE"
    INPROGRESS = "INPROGRESS"
    DONE = "DONE"
    FATAL = "FATAL"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (ProcessingStatus.DONE, ProcessingStatus.FATAL, ProcessingStatus.CANCELLED)

    @property
    def has_report(self) -> bool:
        return self in (ProcessingStatus.DONE, ProcessingStatus.FATAL)


class UploadKind(StrEnum):
    UPLOAD = "UPLOAD"
    ARCHIVE = "ARCHIVE"
