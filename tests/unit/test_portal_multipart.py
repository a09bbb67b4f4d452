"""The streamed multipart receiver: fields, the file to disk, and the limit mid-stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.requests import Request

from catalog_ingest.errors import TransientError
from catalog_ingest.portal.multipart import BadUpload, UploadTooLarge, receive_file

BOUNDARY = "xyzBOUNDARYxyz"


def body(file_bytes: bytes, sheet: str = "S1") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrftoken"\r\n\r\ntok\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="sheet"\r\n\r\n{sheet}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="C:\\\\Users\\\\me\\\\cat.csv"\r\nContent-Type: text/csv\r\n\r\n',
    ]
    return "".join(parts).encode() + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


def request(raw: bytes, chunk: int = 1000, declared: bool = False,
            content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> Request:
    chunks = [raw[i:i + chunk] for i in range(0, len(raw), chunk)]
    sent = {"n": 0}

    async def receive() -> dict[str, object]:
        n = sent["n"]
        sent["n"] += 1
        return {"type": "http.request", "body": chunks[n] if n < len(chunks) else b"",
                "more_body": n + 1 < len(chunks)}

    headers = [(b"content-type", content_type.encode())]
    if declared:
        headers.append((b"content-length", str(len(raw)).encode()))
    scope = {"type": "http", "method": "POST", "path": "/portal/upload", "headers": headers}
    request = Request(scope, receive)
    request.state.sent = sent
    return request


def test_fields_and_the_file_are_received(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    got = asyncio.run(receive_file(request(body(b"a,b\n1,2\n" * 500)), dest, 1 << 20))
    assert got.fields == {"csrftoken": "tok", "sheet": "S1"}
    assert got.file_name == "cat.csv"  # a browser's full Windows path is cut to its name
    assert dest.read_bytes() == b"a,b\n1,2\n" * 500 and got.file_size == 4000


def test_the_limit_stops_reading_mid_stream(tmp_path: Path) -> None:
    req = request(body(b"x" * 50_000), chunk=1000)
    with pytest.raises(UploadTooLarge) as caught:
        asyncio.run(receive_file(req, tmp_path / "f", 10_000))
    assert not caught.value.declared
    assert req.state.sent["n"] < 20  # refused long before the 51 chunks were read


def test_a_declared_length_over_the_limit_reads_nothing(tmp_path: Path) -> None:
    req = request(body(b"x" * 200_000), declared=True)
    with pytest.raises(UploadTooLarge) as caught:
        asyncio.run(receive_file(req, tmp_path / "f", 10_000))
    assert caught.value.declared and req.state.sent["n"] == 0


def test_a_form_that_is_not_multipart_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadUpload):
        asyncio.run(receive_file(request(b"a=1", content_type="application/x-www-form-urlencoded"),
                                 tmp_path / "f", 10_000))


def test_a_full_server_disk_is_a_retry_not_a_bad_file() -> None:
    """/dev/full answers every write with ENOSPC, as a full staging disk does: the person is
    told to try again (TransientError: the portal's "Try again in a moment" page)."""
    req = request(body(b"a,b\n1,2\n" * 5000), chunk=4000)
    with pytest.raises(TransientError):
        asyncio.run(receive_file(req, Path("/dev/full"), 1 << 20))
