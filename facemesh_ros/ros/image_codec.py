"""sensor_msgs/Image and CompressedImage -> RGB numpy arrays, and RGB/BGR arrays -> sensor_msgs/Image.

No cv_bridge: each encoding fixes the memory layout, so numpy views and one cv2.cvtColor do the job.
Every malformed message raises ImageDecodeError saying what is wrong, so the node can log it and go on.
"""

from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


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


def image_to_rgb(msg: Image) -> np.ndarray:
    """Decode a sensor_msgs/Image into a C-contiguous (H, W, 3) uint8 RGB array."""
    if msg.encoding not in _ENCODINGS:
        raise ImageDecodeError(
            "encoding", f"unsupported encoding '{msg.encoding}'; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    pixel_bytes, conversion = _ENCODINGS[msg.encoding]
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if width == 0 or height == 0:
        raise ImageDecodeError("empty", f"empty image ({width}x{height})")
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


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png, as image_transport's compressed plugin sends)."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageDecodeError("compressed", f"compressed image ({msg.format or 'no format'}) has no data")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(
            "compressed", f"could not decode {data.size} bytes of '{msg.format}' data (corrupt or not jpeg/png)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_image(msg: Image | CompressedImage) -> np.ndarray:
    """RGB pixels of either kind of image message (ImageDecodeError when that is impossible)."""
    return compressed_to_rgb(msg) if isinstance(msg, CompressedImage) else image_to_rgb(msg)


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
