"""A writer of serialized ROS 2 messages, fed from numpy: how the node's per-frame messages are built
(messages.py, markers.py, look_at.py).

Why: building rosidl message objects field by field (and rclpy converting them back to C) costs more than
everything else the node adds to the pipeline, while a Publisher takes serialized bytes as they are. The
bytes are the ones rclpy's serialize_message gives (ROS 2's wire format, the one rosbag2 stores as "cdr"),
except that padding is zero where rclpy leaves it uninitialized; tests decode every encoder's output with
rclpy and compare it with the message built from rosidl objects.

Encoding (OMG CDR, little endian): a 4-byte encapsulation header, then the fields in declaration order, each
primitive aligned to its size (8 at most) counted from the end of that header; a string is a uint32 length
(counting the NUL), the UTF-8 bytes and a NUL; a sequence is a uint32 count and the elements; nested messages
are their fields in place.
"""

from __future__ import annotations

import functools
import struct
from typing import Protocol

import numpy as np

ENCAPSULATION = b"\x00\x01\x00\x00"  # CDR, little endian
_ZEROS = bytes(8)
_SIZES = {"?": 1, "B": 1, "i": 4, "I": 4, "f": 4, "d": 8}


class _Time(Protocol):
    sec: int
    nanosec: int


class _Header(Protocol):
    stamp: _Time
    frame_id: str


@functools.cache
def _layouts(types: str) -> tuple[struct.Struct, ...]:
    """Struct formats of the fields `types`, one for each offset mod 8 they may start at, with the padding
    CDR puts before each field."""
    layouts = []
    for start in range(8):
        fmt, offset = "<", start
        for kind in types:
            size = _SIZES[kind]
            padding = -offset % size
            fmt += "x" * padding + kind
            offset += padding + size
        layouts.append(struct.Struct(fmt))
    return tuple(layouts)


class CdrWriter:
    """Appends fields to one message's bytes; value() returns them with the encapsulation header."""

    __slots__ = ("_chunks", "_size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = [ENCAPSULATION]
        self._size = 0  # bytes after the encapsulation header: the offset alignment counts from

    def _append(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)

    def align(self, alignment: int) -> None:
        padding = -self._size % alignment
        if padding:
            self._append(_ZEROS[:padding])

    def pack(self, types: str, *values: float | int | bool) -> None:
        """Consecutive primitive fields, one struct format character each ("?" bool, "B" uint8, "i" int32,
        "I" uint32, "f" float32, "d" float64): "iii" for three int32, "?dddd" for a bool and a Quaternion."""
        self._append(_layouts(types)[self._size % 8].pack(*values))

    def string(self, text: str) -> None:
        data = text.encode()
        self.pack("I", len(data) + 1)
        self._append(data + b"\0")

    def header(self, header: _Header) -> None:
        """std_msgs/Header: the stamp (int32 sec, uint32 nanosec) and frame_id."""
        data = header.frame_id.encode()
        self.pack("iII", header.stamp.sec, header.stamp.nanosec, len(data) + 1)
        self._append(data + b"\0")

    def count(self, length: int) -> None:
        """The element count that starts a sequence."""
        self.pack("I", length)

    def sequence(self, values: np.ndarray, dtype: str, fields: int = 1) -> None:
        """A sequence of one primitive type (`dtype` '<f4' or '<f8'), or of messages made only of that type
        (Point, ColorRGBA: `fields` values each), from an array holding their values in order: the count
        (values.size / fields elements), then the elements."""
        data = np.ascontiguousarray(values, dtype=dtype)
        self.count(data.size // fields)
        if data.size:
            self.align(data.itemsize)
            self._append(data.tobytes())

    def encoded(self, data: bytes) -> None:
        """Fields another writer encoded (its body()), none needing more than 4-byte alignment: they start
        4-aligned there and here, so their padding holds."""
        self.align(4)
        self._append(data)

    def body(self) -> bytes:
        """The bytes so far without the encapsulation header, for another writer's encoded()."""
        return b"".join(self._chunks[1:])

    def value(self) -> bytes:
        return b"".join(self._chunks)
