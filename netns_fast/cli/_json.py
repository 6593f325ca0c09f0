"""iproute2's json_writer, byte for byte (6.1.0 escaping)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

    Value = Union[bytes, int, bool]
    """A JSON value as netns output has them."""

# 6.1.0 escapes only these; other control bytes and DEL are written raw.
_ESCAPES = {
    0x09: b"\\t",
    0x0A: b"\\n",
    0x0D: b"\\r",
    0x0C: b"\\f",
    0x08: b"\\b",
    0x5C: b"\\\\",
    0x22: b'\\"',
}


def quote(raw: bytes) -> bytes:
    """A JSON string as jsonw_puts() writes it."""
    out = bytearray(b'"')
    for byte in raw:
        out += _ESCAPES.get(byte, bytes((byte,)))
    out += b'"'
    return bytes(out)


class JsonWriter:
    """The subset of json_writer.c that netns output uses."""

    def __init__(self, pretty: bool) -> None:
        self.pretty = pretty
        self.buf = bytearray()
        self.depth = 0
        self.sep = b""

    def _eol(self) -> None:
        if self.pretty:
            self.buf += b"\n" + b"    " * self.depth

    def _eor(self) -> None:
        self.buf += self.sep
        self.sep = b","

    def _begin(self, char: bytes) -> None:
        self._eor()
        self.buf += char
        self.depth += 1
        self.sep = b""

    def _end(self, char: bytes) -> None:
        self.depth -= 1
        if self.sep:
            self._eol()
        self.buf += char
        self.sep = b","

    def start_array(self) -> None:
        """jsonw_start_array."""
        self._begin(b"[")
        if self.pretty:
            self.buf += b" "

    def end_array(self) -> None:
        """jsonw_end_array."""
        if self.pretty and self.sep:
            self.buf += b" "
        self.sep = b""
        self._end(b"]")

    def start_object(self) -> None:
        """jsonw_start_object."""
        self._begin(b"{")

    def end_object(self) -> None:
        """jsonw_end_object."""
        self._end(b"}")

    def member(self, key: bytes, value: Value) -> None:
        """jsonw_name + a string, int or bool value."""
        self._eor()
        self._eol()
        self.sep = b""
        self.buf += quote(key) + (b": " if self.pretty else b":")
        self._eor()
        if isinstance(value, bool):
            self.buf += b"true" if value else b"false"
        elif isinstance(value, int):
            self.buf += b"%d" % value
        else:
            self.buf += quote(value)

    def finish(self) -> bytes:
        """jsonw_destroy: the document and its newline."""
        return bytes(self.buf) + b"\n"


def array_of_objects(
    objects: list[list[tuple[bytes, Value]]], pretty: bool
) -> bytes:
    """A whole ``[ {...}, ... ]`` document as ip prints it."""
    writer = JsonWriter(pretty)
    writer.start_array()
    for members in objects:
        writer.start_object()
        for key, value in members:
            writer.member(key, value)
        writer.end_object()
    writer.end_array()
    return writer.finish()
