"""sensor_msgs/Image and CompressedImage -> RGB numpy arrays, and RGB/BGR arrays -> sensor_msgs/Image.

No cv_bridge: each encoding fixes the memory layout, so numpy views and one cv2.cvtColor do the job.
Every malformed message raises ImageDecodeError saying what is wrong, so the node can log it and go on.

Hostile input is bounded before any work: an image larger than `max_pixels` is refused from its declared
size (raw: width x height; compressed: the JPEG frame header or PNG IHDR, read without decoding), so a tiny
file declaring 32000x32000 costs microseconds instead of seconds and gigabytes. A compressed frame that the
decoder complains about (libjpeg/libpng print to stderr, OpenCV still returns pixels) is rejected with the
decoder's message instead of being processed.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from facemesh_ros.ros.native_stderr import captured_stderr
from facemesh_ros.ros.throttle import shorten

DEFAULT_MAX_IMAGE_PIXELS = 7680 * 4320  # 8K UHD: every real camera fits
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): 0xC0-0xCF but DHT, JPG, DAC
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn, TEM: no length field
_JPEG_SOS = 0xDA
_MAX_JPEG_SEGMENTS = 1000
# libjpeg/libpng messages that mean the pixels are wrong: "Corrupt JPEG data: ...", "Premature end of JPEG
# file", "Invalid SOS parameters", "libpng error: ...", CRC errors
_DAMAGE = re.compile(r"corrupt|premature|invalid|error|crc|bad ", re.IGNORECASE)


class ImageDecodeError(ValueError):
    """The image message cannot be turned into pixels; `kind` names the problem (for rate-limited logs)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# encoding -> (bytes per pixel, cv2 conversion to RGB or None when already RGB)
_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "8UC1": (1, cv2.COLOR_GRAY2RGB),
    "8UC3": (3, cv2.COLOR_BGR2RGB),  # OpenCV's default channel order
    # YUV 4:2:2 as USB cameras send it; "yuv422" is ROS's old name for UYVY, "yuv422_yuy2" for YUYV.
    "uyvy": (2, cv2.COLOR_YUV2RGB_UYVY),
    "yuv422": (2, cv2.COLOR_YUV2RGB_UYVY),
    "yuyv": (2, cv2.COLOR_YUV2RGB_YUYV),
    "yuv422_yuy2": (2, cv2.COLOR_YUV2RGB_YUYV),
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise ImageDecodeError("empty", f"empty image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageDecodeError(
            "too large",
            f"image of {width}x{height} = {width * height} pixels is larger than "
            f"max_image_pixels = {max_pixels}: refused before decoding",
        )


def image_to_rgb(msg: Image, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/Image into a C-contiguous (H, W, 3) uint8 RGB array."""
    if msg.encoding not in _ENCODINGS:
        raise ImageDecodeError(
            "encoding", f"unsupported encoding '{shorten(msg.encoding)}'; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    pixel_bytes, conversion = _ENCODINGS[msg.encoding]
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    _check_pixels(width, height, max_pixels)
    if pixel_bytes == 2 and width % 2:
        raise ImageDecodeError("width", f"{msg.encoding} needs an even width, got {width}")
    if step < width * pixel_bytes:
        raise ImageDecodeError(
            "step", f"step {step} is shorter than a row of {width} {msg.encoding} pixels ({width * pixel_bytes} bytes)"
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageDecodeError(
            "size", f"data has {data.size} bytes, expected step*height = {step}*{height} = {step * height}"
        )
    rows = data.reshape(height, step)[:, : width * pixel_bytes]
    pixels = rows.reshape(height, width, pixel_bytes)
    if conversion is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(pixels, conversion)


def compressed_size(data: bytes) -> tuple[str, int, int]:
    """("jpeg" | "png", width, height) as the file's header declares them, without decoding any pixels."""
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageDecodeError("header", "png data without an IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(JPEG_SOI):
        return ("jpeg", *_jpeg_size(data))
    raise ImageDecodeError("format", f"compressed data is neither jpeg nor png (starts with {data[:8].hex()})")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments up to the start-of-frame header, which holds height and width."""
    at = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        while at < len(data) and data[at] == 0xFF and at + 1 < len(data) and data[at + 1] == 0xFF:
            at += 1  # fill bytes
        if at + 4 > len(data) or data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker == _JPEG_SOS:
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_SOF:
            if length < 8 or at + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise ImageDecodeError("header", "jpeg data without a readable frame header (SOF) before the image data")


def compressed_to_rgb(
    msg: CompressedImage, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS, on_warning: Callable[[str], None] | None = None
) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png, as image_transport's compressed plugin sends).

    A frame whose decoder reports damaged data is rejected (ImageDecodeError); the decoder's other messages
    (e.g. libjpeg's "Warning: unknown JFIF revision number") go to `on_warning` and the frame is kept."""
    data = bytes(msg.data)
    if not data:
        raise ImageDecodeError("compressed", f"compressed image ({shorten(msg.format) or 'no format'}) has no data")
    kind, width, height = compressed_size(data)
    _check_pixels(width, height, max_pixels)
    with captured_stderr() as complaints:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(
            "compressed",
            f"could not decode {len(data)} bytes of {kind} data ({_library_says(complaints) or 'corrupt'})",
        )
    damage = [line for line in complaints if _DAMAGE.search(line)]
    if damage:
        raise ImageDecodeError("corrupt", f"corrupt {kind} frame rejected: {_library_says(damage)}")
    if complaints and on_warning is not None:
        on_warning(f"{kind} frame kept: {_library_says(complaints)}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _library_says(lines: list[str]) -> str:
    """The decoder's stderr lines as one short log-safe text."""
    if not lines:
        return ""
    more = f" (+{len(lines) - 1} more line(s))" if len(lines) > 1 else ""
    return f"decoder says '{shorten(lines[0].strip())}'{more}"


def decode_image(
    msg: Image | CompressedImage,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    on_warning: Callable[[str], None] | None = None,
) -> np.ndarray:
    """RGB pixels of either kind of image message (ImageDecodeError when that is impossible)."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg, max_pixels, on_warning)
    return image_to_rgb(msg, max_pixels)


def image_from_pixels(header: Header, pixels: np.ndarray, encoding: str) -> Image:
    """Wrap an (H, W, 3) uint8 array as a sensor_msgs/Image of `encoding` ('bgr8' or 'rgb8')."""
    height, width = pixels.shape[:2]
    return Image(
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * 3,
        data=np.ascontiguousarray(pixels).tobytes(),
    )
