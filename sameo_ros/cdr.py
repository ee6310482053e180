"""Reading and writing plain CDR, the ROS 2 wire format, one primitive or string at a time.

A serialized message is a 4-byte encapsulation header (representation id, big endian: 0x0000 big-
and 0x0001 little-endian CDR, OMG DDS-XTypes 7.6.3.1.2; then 2 option bytes) and the payload, in
which every primitive is aligned to its size counted from the end of the encapsulation header and
a string is a uint32 length (terminating NUL included), the bytes and the NUL.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

from .conversions import ConversionError

ENCAPSULATION_LE = b"\x00\x01\x00\x00"
_HEAD = 4
_ORDERS = {0x0000: ">", 0x0001: "<"}
_PADDING = tuple(b"\0" * n for n in range(8))


@functools.cache
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


class CdrReader:
    """Reads a serialized message front to back; ConversionError("cdr") on malformed bytes."""

    def __init__(self, raw: bytes | memoryview) -> None:
        if len(raw) < _HEAD:
            raise ConversionError("cdr", f"serialized message of {len(raw)} bytes")
        representation = int.from_bytes(bytes(raw[:2]), "big")
        if representation not in _ORDERS:
            raise ConversionError("cdr", f"unsupported CDR representation 0x{representation:04x}")
        self.raw = raw
        self.order = _ORDERS[representation]
        self.pos = _HEAD

    def values(self, fmt: str, alignment: int) -> tuple:
        """Primitives of struct format `fmt` (no padding inside), aligned to `alignment`."""
        self.pos += -(self.pos - _HEAD) % alignment
        layout = _struct(self.order + fmt)
        try:
            out = layout.unpack_from(self.raw, self.pos)
        except struct.error as error:
            raise ConversionError("cdr", f"truncated message at byte {self.pos}") from error
        self.pos += layout.size
        return out

    def uint32(self) -> int:
        return self.values("I", 4)[0]

    def count(self, min_item_size: int) -> int:
        """A sequence length, checked against the bytes left."""
        n = self.uint32()
        if n * min_item_size > len(self.raw) - self.pos:
            raise ConversionError("cdr", f"sequence of {n} items does not fit the message")
        return n

    def string(self) -> str:
        n = self.uint32()
        end = self.pos + n
        if n == 0 or end > len(self.raw):
            raise ConversionError("cdr", f"bad string of length {n} at byte {self.pos}")
        text = bytes(self.raw[self.pos : end - 1]).decode("utf-8", errors="replace")
        self.pos = end
        return text

    def skip(self, size: int, alignment: int) -> None:
        self.pos += -(self.pos - _HEAD) % alignment + size


class CdrWriter:
    """Builds a little-endian serialized message from parts, joined once at the end."""

    def __init__(self) -> None:
        self.parts: list[bytes | np.ndarray] = [ENCAPSULATION_LE]
        self.size = 0  # payload bytes so far

    def raw(self, data: bytes | np.ndarray, alignment: int = 1) -> None:
        """`data` (bytes or a 1-D uint8 array), already laid out, at a multiple of `alignment`."""
        pad = -self.size % alignment
        if pad:
            self.parts.append(_PADDING[pad])
        self.parts.append(data)
        self.size += pad + len(data)

    def values(self, fmt: str, alignment: int, *values: object) -> None:
        self.raw(_struct("<" + fmt).pack(*values), alignment)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def string_bytes(text: str) -> bytes:
    """A CDR string as laid out (write it 4-aligned)."""
    data = text.encode()
    return struct.pack("<I", len(data) + 1) + data + b"\0"


def header_stamp_ns(raw: bytes | memoryview) -> int:
    """Stamp (ns) of a serialized message whose first field is a std_msgs/Header; reads 12 bytes,
    so a callback can pair messages without deserializing them."""
    sec, nanosec = CdrReader(raw).values("iI", 4)
    return sec * 1_000_000_000 + nanosec
