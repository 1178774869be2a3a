"""sensor_msgs/Image and CompressedImage decoding: every supported encoding, and every malformed message."""

from __future__ import annotations

import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from facemesh_ros.ros.image_codec import (
    PNG_SIGNATURE,
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    compressed_size,
    compressed_to_rgb,
    image_from_pixels,
    image_to_rgb,
)


@pytest.fixture(scope="module")
def rgb(test_data_dir) -> np.ndarray:
    bgr = cv2.imread(str(test_data_dir / "astronaut.png"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[:120, :160].copy()


def make_image(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    height, width = pixels.shape[:2]
    row = pixels.reshape(height, -1)
    padded = np.concatenate([row, np.full((height, padding), 7, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, step=padded.shape[1], data=padded.tobytes())


@pytest.mark.parametrize(
    ("encoding", "to_layout"),
    [
        ("rgb8", None),
        ("bgr8", cv2.COLOR_RGB2BGR),
        ("8UC3", cv2.COLOR_RGB2BGR),
        ("rgba8", cv2.COLOR_RGB2RGBA),
        ("bgra8", cv2.COLOR_RGB2BGRA),
    ],
)
def test_color_encodings_decode_exactly(rgb: np.ndarray, encoding: str, to_layout: int | None) -> None:
    pixels = rgb if to_layout is None else cv2.cvtColor(rgb, to_layout)
    for padding in (0, 5):  # step longer than a row, as some drivers align rows
        np.testing.assert_array_equal(image_to_rgb(make_image(pixels, encoding, padding)), rgb)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_gray_encodings_fill_three_channels(rgb: np.ndarray, encoding: str) -> None:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    decoded = image_to_rgb(make_image(gray, encoding))
    assert decoded.shape == (*gray.shape, 3)
    np.testing.assert_array_equal(decoded[:, :, 1], gray)


@pytest.mark.parametrize(
    ("encoding", "order"), [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")]
)
def test_yuv422_encodings_decode_close_to_the_source(rgb: np.ndarray, encoding: str, order: str) -> None:
    # BT.601 video range, as cameras send it and OpenCV's YUV422 decoders expect
    r, g, b = (rgb[:, :, i].astype(np.float32) for i in range(3))
    y = np.clip(16 + 0.257 * r + 0.504 * g + 0.098 * b, 0, 255).round().astype(np.uint8)
    u = np.clip(128 - 0.148 * r - 0.291 * g + 0.439 * b, 0, 255).round().astype(np.uint8)[:, 0::2]
    v = np.clip(128 + 0.439 * r - 0.368 * g - 0.071 * b, 0, 255).round().astype(np.uint8)[:, 0::2]
    packed = np.empty((rgb.shape[0], rgb.shape[1] * 2), np.uint8)
    if order == "uyvy":
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = u, y[:, 0::2], v, y[:, 1::2]
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = y[:, 0::2], u, y[:, 1::2], v
    decoded = image_to_rgb(make_image(packed.reshape(rgb.shape[0], rgb.shape[1], 2), encoding))
    # chroma is shared by pixel pairs, so colours blur a little; a wrong byte order is off by far more
    assert np.abs(decoded.astype(int) - rgb).mean() < 6


def test_every_listed_encoding_is_tested() -> None:
    assert set(SUPPORTED_ENCODINGS) == {
        "rgb8",
        "bgr8",
        "rgba8",
        "bgra8",
        "mono8",
        "8UC1",
        "8UC3",
        "uyvy",
        "yuv422",
        "yuyv",
        "yuv422_yuy2",
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: setattr(m, "encoding", "16UC1"), "unsupported encoding '16UC1'"),
        (lambda m: setattr(m, "encoding", ""), "unsupported encoding ''"),
        (lambda m: setattr(m, "step", 10), "step 10 is shorter than a row"),
        (lambda m: setattr(m, "data", bytes(m.data)[:-100]), r"expected step\*height"),
        (lambda m: setattr(m, "height", m.height + 1), r"expected step\*height"),
        (lambda m: (setattr(m, "width", 0), setattr(m, "height", 0)), "empty image"),
    ],
)
def test_malformed_images_raise_a_clear_error(rgb: np.ndarray, mutate, message: str) -> None:
    msg = make_image(rgb, "rgb8")
    mutate(msg)
    with pytest.raises(ImageDecodeError, match=message):
        image_to_rgb(msg)


def test_odd_width_yuv_is_rejected() -> None:
    msg = Image(height=2, width=3, encoding="yuyv", step=6, data=bytes(12))
    with pytest.raises(ImageDecodeError, match="even width"):
        image_to_rgb(msg)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_compressed_images_decode(rgb: np.ndarray, extension: str) -> None:
    ok, encoded = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    decoded = compressed_to_rgb(CompressedImage(format=extension[1:], data=encoded.tobytes()))
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - rgb).mean() < (3 if extension == ".jpg" else 1e-9)


def test_corrupt_and_empty_compressed_images_raise(rgb: np.ndarray) -> None:
    _, encoded = cv2.imencode(".jpg", rgb)
    with pytest.raises(ImageDecodeError, match="frame header"):
        compressed_to_rgb(CompressedImage(format="jpeg", data=b"\xff\xd8garbage" + encoded.tobytes()[500:]))
    with pytest.raises(ImageDecodeError, match="could not decode"):
        compressed_to_rgb(CompressedImage(format="jpeg", data=encoded.tobytes()[:400] + bytes(50)))
    with pytest.raises(ImageDecodeError, match="no data"):
        compressed_to_rgb(CompressedImage(format="jpeg", data=b""))


def declaring(encoded: bytes, width: int, height: int) -> bytes:
    """`encoded` (a small JPEG or PNG) with a header that declares width x height: a decode bomb."""
    data = bytearray(encoded)
    if data.startswith(PNG_SIGNATURE):
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # a valid IHDR, as a bomb has
    else:
        at = data.index(b"\xff\xc0")
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_a_decode_bomb_is_refused_from_its_header_before_decoding(rgb: np.ndarray, extension: str) -> None:
    _, small = cv2.imencode(extension, rgb[:16, :16])
    bomb = declaring(small.tobytes(), 32000, 32000)
    assert len(bomb) < 2000 and compressed_size(bomb)[1:] == (32000, 32000)
    start = time.perf_counter()
    with pytest.raises(ImageDecodeError, match=r"32000x32000 = 1024000000 pixels .* max_image_pixels") as error:
        compressed_to_rgb(CompressedImage(format=extension[1:], data=bomb))
    assert error.value.kind == "too large"
    assert time.perf_counter() - start < 0.5  # no decoding happened (decoding it takes 6-19 s and GBs)
    # the limit is the caller's: a size within it decodes
    assert (
        compressed_to_rgb(
            CompressedImage(format="png", data=cv2.imencode(".png", rgb)[1].tobytes()),
            max_pixels=rgb.shape[0] * rgb.shape[1],
        ).shape
        == rgb.shape
    )


def test_a_raw_image_over_the_limit_is_refused(rgb: np.ndarray) -> None:
    msg = make_image(rgb, "rgb8")
    with pytest.raises(ImageDecodeError, match="max_image_pixels = 100"):
        image_to_rgb(msg, max_pixels=100)
    assert image_to_rgb(msg, max_pixels=rgb.shape[0] * rgb.shape[1]).shape == rgb.shape


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_a_frame_the_decoder_complains_about_is_rejected_with_its_message(
    rgb: np.ndarray, extension: str, capfd
) -> None:
    _, encoded = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    data = bytearray(encoded.tobytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64  # a corrupt middle: OpenCV still returns (wrong) pixels for a jpeg
    with pytest.raises(ImageDecodeError, match=r"decoder says '(Corrupt JPEG data|libpng)") as error:
        compressed_to_rgb(CompressedImage(format=extension[1:], data=bytes(data)))
    assert error.value.kind in ("corrupt", "compressed")
    assert capfd.readouterr().err == ""  # the library's stderr line went into the error, not to the terminal


def test_a_decoder_warning_keeps_the_frame_and_is_handed_to_the_caller(rgb: np.ndarray, capfd) -> None:
    data = bytearray(cv2.imencode(".jpg", rgb)[1].tobytes())
    assert data[6:11] == b"JFIF\x00"
    data[11] = 9  # JFIF major version 9: libjpeg warns "unknown JFIF revision number" and decodes as usual
    warnings: list[str] = []
    decoded = compressed_to_rgb(CompressedImage(format="jpeg", data=bytes(data)), on_warning=warnings.append)
    assert decoded.shape == rgb.shape
    assert len(warnings) == 1 and "unknown JFIF revision" in warnings[0], warnings
    assert capfd.readouterr().err == ""


def test_other_formats_and_long_strings_are_refused_briefly(rgb: np.ndarray) -> None:
    _, bmp = cv2.imencode(".bmp", rgb)
    with pytest.raises(ImageDecodeError, match="neither jpeg nor png"):
        compressed_to_rgb(CompressedImage(format="bmp", data=bmp.tobytes()))
    msg = make_image(rgb, "rgb8")
    msg.encoding = "x" * 1_000_000
    with pytest.raises(ImageDecodeError) as error:
        image_to_rgb(msg)
    assert len(str(error.value)) < 500 and "999800 more characters" in str(error.value)


def test_image_from_pixels_round_trips(rgb: np.ndarray) -> None:
    header = Header(frame_id="cam")
    msg = image_from_pixels(header, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "bgr8")
    assert msg.header.frame_id == "cam" and msg.encoding == "bgr8"
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)
