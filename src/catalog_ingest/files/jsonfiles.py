"""JSON and JSON Lines catalog files, streamed: each record with the line it starts on."""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from catalog_ingest.files.records import Row, SourceError

_BLOCK = 1 << 20
_MAX_VALUE = 16 << 20
_WS = re.compile(r"[ \t\n\r]*")


# --- JSON Lines --------------------------------------------------------------------------------


def jsonl_bytes(raw: IO[bytes], name: str) -> Iterator[Row]:
    """JSON Lines in UTF-8, decoded straight from the bytes (the common, large case)."""
    decoder = msgspec.json.Decoder()
    for number, line in enumerate(raw, start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        if line.isspace() or not line:
            continue
        try:
            yield Row(name, number, decoder.decode(line))
        except msgspec.DecodeError as exc:
            yield Row(name, number, None, error=f"invalid JSON: {exc}")


def jsonl_rows(text: io.TextIOWrapper, name: str) -> Iterator[Row]:
    decoder = msgspec.json.Decoder()
    for number, line in enumerate(text, start=1):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        try:
            yield Row(name, number, decoder.decode(stripped.encode()))
        except msgspec.DecodeError as exc:
            yield Row(name, number, None, error=f"invalid JSON: {exc}")


# --- JSON (an array, or {"catalogItems": [...]}) -----------------------------------------------


class _Stream:
    """A text stream read block by block, with JSON values decoded from it and lines counted."""

    def __init__(self, text: io.TextIOWrapper, name: str) -> None:
        self.text, self.name = text, name
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.counted = 1, 0
        self.decoder = json.JSONDecoder()

    def fill(self) -> None:
        self.line_no()
        self.buf = self.buf[self.pos:]
        self.counted -= self.pos
        self.pos = 0
        block = self.text.read(_BLOCK)
        self.eof = not block
        self.buf += block

    def line_no(self) -> int:
        self.line += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos:self.pos + 1]
            self.fill()

    def expect(self, chars: str, what: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            found = repr(char) if char else "the end of the file"
            raise SourceError(self.name, self.line_no(), f"expected {what}, found {found}")
        self.pos += 1
        return char

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Cut by the block boundary, or really invalid? No item is anywhere near 16 MiB.
                if self.eof or len(self.buf) - self.pos > _MAX_VALUE:
                    self.pos = exc.pos
                    message = f"invalid JSON: {exc.msg}"
                    raise SourceError(self.name, self.line_no(), message) from exc
                self.fill()
                continue
            if end == len(self.buf) and not self.eof:
                self.fill()  # a number cut by the block boundary may go on
                continue
            self.pos = end
            return obj


def json_rows(text: io.TextIOWrapper, name: str) -> Iterator[Row]:
    stream = _Stream(text, name)
    first = stream.expect("[{", "a JSON array or an object with catalogItems")
    if first == "[":
        yield from _array(stream)
    else:
        yield from _object_items(stream)
    if stream.peek():
        raise SourceError(name, stream.line_no(), "unexpected data after the JSON document")


def _array(stream: _Stream) -> Iterator[Row]:
    if stream.peek() == "]":
        stream.pos += 1
        return
    while True:
        stream.peek()
        line = stream.line_no()
        yield Row(stream.name, line, stream.value())
        if stream.expect(",]", "',' or ']'") == "]":
            return


def _object_items(stream: _Stream) -> Iterator[Row]:
    found = False
    if stream.peek() == "}":
        stream.pos += 1
    else:
        while True:
            key = stream.value()
            if not isinstance(key, str):
                raise SourceError(stream.name, stream.line_no(), "expected an attribute name")
            stream.expect(":", "':'")
            if key == "catalogItems" and not found:
                stream.expect("[", "catalogItems to be an array")
                found = True
                yield from _array(stream)
            else:
                stream.value()
            if stream.expect(",}", "',' or '}'") == "}":
                break
    if not found:
        raise SourceError(stream.name, None, 'the JSON object has no "catalogItems" array')
