"""Receive a multipart file upload straight to disk, refusing it once it passes a size limit.

Starlette's `request.form()` spools the whole body before the handler sees it; here the body
is parsed as it arrives (python-multipart's streaming parser), the file part written to the
staging file, and the reading stops at the first byte over the limit, or before any byte
when the declared Content-Length is already over it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from itsdangerous import BadSignature, URLSafeSerializer
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from catalog_ingest.errors import disk_errors

MAX_FIELD_BYTES: Final = 256 * 1024
_SLACK: Final = 64 * 1024  # the multipart framing and the small fields around the file


class UploadTooLarge(Exception):
    """The upload is over the limit; `declared` when the Content-Length said so up front."""

    def __init__(self, limit: int, declared: bool) -> None:
        super().__init__(limit)
        self.limit = limit
        self.declared = declared


class BadUpload(Exception):
    """Not a multipart form, or a malformed one."""


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str = ""
    file_size: int = 0


class _Sink:
    """python-multipart callbacks: fields into `received`, the file part into `out`."""

    def __init__(self, out: IO[bytes], file_field: str, max_bytes: int) -> None:
        self.out, self.file_field, self.max_bytes = out, file_field, max_bytes
        self.received = Received()
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.is_file = False
        self.value = bytearray()

    def on_part_begin(self) -> None:
        self.headers, self.name, self.is_file, self.value = {}, "", False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.is_file = self.name == self.file_field and filename is not None
        if self.is_file and filename is not None:
            self.received.file_name = Path(filename.decode("utf-8", "replace")
                                           .replace("\\", "/")).name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.is_file:
            self.received.file_size += len(chunk)
            if self.received.file_size > self.max_bytes:
                raise UploadTooLarge(self.max_bytes, declared=False)
            self.out.write(chunk)
            return
        self.value += chunk
        if len(self.value) > MAX_FIELD_BYTES:
            raise BadUpload(f"the form field {self.name!r} is too long")

    def on_part_end(self) -> None:
        if not self.is_file and self.name:
            self.received.fields[self.name] = self.value.decode("utf-8", "replace")


async def receive_file(request: Request, dest: Path, max_bytes: int,
                       file_field: str = "file") -> Received:
    """Parse the multipart body of `request`, writing the `file_field` part to `dest`."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadUpload("the form was not sent as a file upload (multipart/form-data)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _SLACK:
        raise UploadTooLarge(max_bytes, declared=True)
    # The server's disk, not the person's file: "try again", never "your file is bad".
    with disk_errors("staging the upload"), open(dest, "wb") as out:
        return await _parse(request, out, boundary, file_field, max_bytes)


async def _parse(request: Request, out: IO[bytes], boundary: bytes, file_field: str,
                 max_bytes: int) -> Received:
    sink = _Sink(out, file_field, max_bytes)
    callbacks = {name: getattr(sink, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (UploadTooLarge, BadUpload, OSError):
        raise
    except Exception as exc:  # python-multipart raises its own kinds for a broken body
        raise BadUpload(f"the upload could not be read ({type(exc).__name__})") from None
    return sink.received


def csrf_ok(request: Request, token: str, cookie_name: str, signing_secret: str) -> bool:
    """asgi-csrf's double-submit check for a streamed form: the form's token is the cookie's,
    and the cookie carries asgi-csrf's signature."""
    cookie = request.cookies.get(cookie_name, "")
    if not cookie or not token or not hmac.compare_digest(cookie, token):
        return False
    try:
        URLSafeSerializer(signing_secret).loads(cookie, salt="csrftoken")
    except BadSignature:
        return False
    return True
