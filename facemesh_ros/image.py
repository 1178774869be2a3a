"""Input images for FaceMesh.process(): validation and normalisation, and MediaPipe-exact ROI resampling.

Accepted (all converted to a C-contiguous uint8 H x W x 3 RGB array; the caller's array is never modified):
- uint8 H x W x 3 (RGB, as MediaPipe) — used as is when already C-contiguous (read-only arrays are fine);
- uint8 H x W or H x W x 1 (grayscale) — replicated to three channels;
- uint8 H x W x 4 (RGBA) — alpha dropped (MediaPipe's converter also ignores it);
- non-contiguous views (slices, flips, transposes) — copied to a contiguous array.
Any size from 1 x 1 up to MAX_SIDE pixels per side is processed (tiny or very elongated images simply give
fewer or no faces).

Rejected with ValueError: anything that is not a numpy array, other dtypes (float images have no agreed
range: convert with ``(img * 255).clip(0, 255).astype(np.uint8)``), other channel counts or dimensions, zero
size, sides above MAX_SIDE (OpenCV's warp limit).
"""

from __future__ import annotations

import functools
import threading

import cv2
import numpy as np

MAX_SIDE = 32767


def as_rgb_uint8(image: object) -> np.ndarray:
    """Return `image` as a C-contiguous uint8 (H, W, 3) RGB array, or raise ValueError saying why not."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy.ndarray (H x W x 3 uint8 RGB), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"image dtype must be uint8 (0..255 RGB), got {image.dtype}; "
            "convert e.g. with (img * 255).clip(0, 255).astype(np.uint8)"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"image must be H x W x 3 (RGB), H x W x 4 (RGBA), H x W x 1 or H x W (gray); got shape {image.shape}"
        )
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image is empty (shape {image.shape}); height and width must be >= 1")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ValueError(f"image sides must be <= {MAX_SIDE} pixels, got {width} x {height}")
    channels = image.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.broadcast_to(image, (height, width, 3)))
    if channels == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return np.ascontiguousarray(image)


# --- Rotated-rectangle resampling, bit-exact with MediaPipe's CPU image-to-tensor step --------------------
# MediaPipe maps the ROI's corners (OpenCV 4 box points, float32) onto the tensor's corners with a
# perspective transform and resamples with warpPerspective (bilinear, 1/32-pixel fixed point). OpenCV 5
# computes box points, the transform and the warp slightly differently; a 1-level change of a few input
# pixels moves detections and, through tracking's feedback, every later crop. So the sampling positions are
# computed here in numpy exactly as OpenCV 4 does, and cv2.remap with fixed-point maps (the same kernel in
# OpenCV 4 and 5) does the interpolation. Where OpenCV's own warpPerspective gives the same bytes (OpenCV 4,
# checked at first use), resample() lets it do both steps in one call.

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS


def box_points(center_x: float, center_y: float, width: float, height: float, rotation: float) -> np.ndarray:
    """Corners (4, 2) float32 of a rotated rectangle in pixels, in OpenCV 4's order and float32 rounding.

    rotation is in radians (clockwise on screen); order: bottom-left, top-left, top-right, bottom-right of
    the unrotated rectangle.
    """
    f32 = np.float32
    cx, cy, w, h = f32(center_x), f32(center_y), f32(width), f32(height)
    degrees = f32(float(f32(rotation) * f32(180.0)) / np.pi)
    radians = float(degrees) * np.pi / 180.0
    b = f32(np.cos(radians)) * f32(0.5)
    a = f32(np.sin(radians)) * f32(0.5)
    p0 = (cx - a * h - b * w, cy + b * h - a * w)
    p1 = (cx + a * h - b * w, cy - b * h - a * w)
    p2 = (f32(2) * cx - p0[0], f32(2) * cy - p0[1])
    p3 = (f32(2) * cx - p1[0], f32(2) * cy - p1[1])
    return np.array([p0, p1, p2, p3], np.float32)


def _lu_solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting in OpenCV 4's operation order (double precision)."""
    a = [row[:] for row in matrix]
    b = rhs[:]
    size = len(b)
    for i in range(size):
        pivot = max(range(i, size), key=lambda r: (abs(a[r][i]), -r))
        if abs(a[pivot][i]) < np.finfo(np.float64).eps * 100:
            raise ValueError("degenerate rectangle: cannot build the perspective transform")
        if pivot != i:
            a[i], a[pivot] = a[pivot], a[i]
            b[i], b[pivot] = b[pivot], b[i]
        scale = -1.0 / a[i][i]
        for j in range(i + 1, size):
            alpha = a[j][i] * scale
            row_i, row_j = a[i], a[j]
            for k in range(i + 1, size):
                row_j[k] += alpha * row_i[k]
            b[j] += alpha * b[i]
    for i in range(size - 1, -1, -1):
        total = b[i]
        for k in range(i + 1, size):
            total -= a[i][k] * b[k]
        b[i] = total / a[i][i]
    return b


def perspective_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """3x3 perspective matrix (float64) taking 4 float32 source points onto 4 float32 target points.

    Same linear system (products of coordinates rounded to float32, as OpenCV) and the same solver.
    """
    src = source.astype(np.float32)
    dst = target.astype(np.float32)
    matrix, rhs = [], []
    for (x, y), (u, _) in zip(src, dst, strict=True):
        matrix.append([float(x), float(y), 1.0, 0.0, 0.0, 0.0, float(-x * u), float(-y * u)])
        rhs.append(float(u))
    for (x, y), (_, v) in zip(src, dst, strict=True):
        matrix.append([0.0, 0.0, 0.0, float(x), float(y), 1.0, float(-x * v), float(-y * v)])
        rhs.append(float(v))
    return np.array([*_lu_solve(matrix, rhs), 1.0]).reshape(3, 3)


def invert_3x3(m: np.ndarray) -> np.ndarray:
    """Inverse through the adjugate, OpenCV 4's formula for 3x3 matrices."""
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    if det == 0.0:
        raise ValueError("degenerate rectangle: transform is not invertible")
    r = 1.0 / det
    return np.array(
        [
            [(e * i - f * h) * r, (c * h - b * i) * r, (b * f - c * e) * r],
            [(f * g - d * i) * r, (a * i - c * g) * r, (c * d - a * f) * r],
            [(d * h - e * g) * r, (b * g - a * h) * r, (a * e - b * d) * r],
        ]
    )


_BLOCK_WIDTH = 64  # OpenCV 4's warp block: positions are accumulated from each block's first column
_BLOCK_OFFSETS = np.arange(_BLOCK_WIDTH, dtype=np.float64)


class _MapBuffers:
    """Work arrays of fixed_point_maps for one output size, reused: fresh ones per call cost more than the math."""

    def __init__(self, width: int, height: int) -> None:
        blocks = -(-width // _BLOCK_WIDTH)
        self.rows = np.arange(height, dtype=np.float64)
        self.block_x = np.arange(blocks, dtype=np.float64) * _BLOCK_WIDTH
        self.base = np.empty((height, blocks))
        self.scale = np.empty((height, blocks, _BLOCK_WIDTH))
        self.value = np.empty((height, blocks, _BLOCK_WIDTH))
        self.fixed = np.empty((height, blocks * _BLOCK_WIDTH, 2), np.int32)

    def plane(self, m_row: np.ndarray, out: np.ndarray) -> np.ndarray:
        """(m1 * y + m0 * block_x) + m2 per row and block, + m0 * dx per column: OpenCV 4's sum, commuted."""
        np.add.outer(m_row[1] * self.rows, m_row[0] * self.block_x, out=self.base)
        self.base += m_row[2]
        return np.add(self.base[:, :, None], m_row[0] * _BLOCK_OFFSETS, out=out)


_MAP_BUFFERS = threading.local()  # per thread: warps may run on several threads at once


_CACHED_MAP_PIXELS = 256 * 256  # model inputs (crops, letterbox); whole frames get fresh arrays


def _map_buffers(width: int, height: int) -> _MapBuffers:
    if width * height > _CACHED_MAP_PIXELS:
        return _MapBuffers(width, height)
    cache: dict[tuple[int, int], _MapBuffers] = _MAP_BUFFERS.__dict__.setdefault("by_size", {})
    buffers = cache.get((width, height))
    if buffers is None:
        buffers = cache[(width, height)] = _MapBuffers(width, height)
    return buffers


def _mapped_bound(inverse: np.ndarray, width: int, height: int) -> float:
    """Largest |coordinate| * 32 any output pixel maps to (a projective map is extreme at the corners)."""
    x = np.array([0.0, width - 1.0, 0.0, width - 1.0])[:, None]
    y = np.array([0.0, 0.0, height - 1.0, height - 1.0])[:, None]
    mapped = x * inverse[:, 0] + y * inverse[:, 1] + inverse[:, 2]  # no BLAS call (its threads would wake)
    if np.any(mapped[:, 2] <= 0):
        return np.inf
    return float(np.abs(mapped[:, :2] / mapped[:, 2:]).max()) * INTER_TAB_SIZE


def fixed_point_maps(inverse: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps (int16 x/y, uint16 1/32 fractions) for output pixel -> input position `inverse`.

    Per pixel, as OpenCV 4: depth = (m20 * block_x + m21 * y + m22) + m20 * dx, scale = 32 / depth,
    X = rint(((m00 * block_x + m01 * y + m02) + m00 * dx) * scale), same for Y; integer part = X >> 5.
    """
    m = inverse
    buffers = _map_buffers(width, height)
    safe = _mapped_bound(inverse, width, height) < 30000 * INTER_TAB_SIZE  # no clamping needed (fast path)
    scale = buffers.plane(m[2], buffers.scale)
    if safe:
        np.divide(INTER_TAB_SIZE, scale, out=scale)
    else:
        nonzero = scale != 0
        np.divide(INTER_TAB_SIZE, scale, out=scale, where=nonzero)
        scale[~nonzero] = 0.0
    fixed = buffers.fixed
    for row in (0, 1):
        value = buffers.plane(m[row], buffers.value)
        value *= scale
        if not safe:
            limit = float(np.iinfo(np.int32).max)
            np.clip(value, -limit - 1, limit, out=value)
        fixed[:, :, row] = np.rint(value, out=value).reshape(height, -1)
    fixed_xy = fixed[:, :width]
    whole = fixed_xy >> INTER_BITS
    if not safe:
        np.clip(whole, -32768, 32767, out=whole)
    fixed_xy &= INTER_TAB_SIZE - 1
    fractions = fixed_xy[:, :, 1] * INTER_TAB_SIZE
    fractions += fixed_xy[:, :, 0]
    return whole.astype(np.int16), fractions.astype(np.uint16)


def rect_inverse(
    center_x: float, center_y: float, width: float, height: float, rotation: float, size: int
) -> np.ndarray:
    """3x3 map (float64) from a size x size output's pixels to a rotated rectangle's (pixels, radians) input pixels.

    Forward then inverted, as OpenCV: exact rounding ties (letterbox scales like 941/128) fall alike.
    """
    corners = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
    forward = perspective_from_points(box_points(center_x, center_y, width, height, rotation), corners)
    return invert_3x3(forward)


def rect_maps(
    center_x: float, center_y: float, width: float, height: float, rotation: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps resampling a rotated rectangle (pixels, radians) to size x size, as MediaPipe's warp."""
    return fixed_point_maps(rect_inverse(center_x, center_y, width, height, rotation, size), size, size)


@functools.cache
def native_warp_is_exact() -> bool:
    """True when resample() uses OpenCV's own warpPerspective (OpenCV 4), False for the numpy maps (OpenCV 5).

    The native warp does in one C call what fixed_point_maps + remap do; it is used only where it gives the
    same bytes. OpenCV 4.x does (its warp computes fixed_point_maps' positions in C); OpenCV 5.0 does not.
    Checked once, on a noise image through rectangles that rotate, shrink, enlarge and leave the image.
    """
    image = np.random.default_rng(4).integers(0, 256, (97, 131, 3), np.uint8)
    for index, (cx, cy, w, h, rotation) in enumerate(
        [
            (65.5, 48.5, 131.0, 131.0, 0.0),
            (40.2, 61.7, 37.3, 41.9, 0.61),
            (120.0, 10.0, 90.5, 80.1, -2.3),
            (70.3, 50.1, 9.7, 9.7, 1.2),
            (-20.0, 90.0, 150.0, 140.0, 3.0),
        ]
    ):
        size = 64 + 13 * index
        inverse = rect_inverse(cx, cy, w, h, rotation, size)
        for border in (cv2.BORDER_REPLICATE, cv2.BORDER_CONSTANT):
            coords, fractions = fixed_point_maps(inverse, size, size)
            expected = cv2.remap(image, coords, fractions, cv2.INTER_LINEAR, borderMode=border, borderValue=0)
            if not np.array_equal(_native_warp(image, inverse, size, border), expected):
                return False
    return True


def _native_warp(
    image: np.ndarray, inverse: np.ndarray, size: int, border: int, out: np.ndarray | None = None
) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(image, inverse, (size, size), dst=out, flags=flags, borderMode=border, borderValue=0)


def resample(
    image: np.ndarray, inverse: np.ndarray, size: int, border: int, out: np.ndarray | None = None
) -> np.ndarray:
    """size x size bilinear resample of `image` through the output -> input map `inverse`, as OpenCV 4.

    border: cv2.BORDER_REPLICATE (landmark crops) or cv2.BORDER_CONSTANT with 0 (detector letterbox).
    """
    if native_warp_is_exact():
        return _native_warp(image, inverse, size, border, out)
    coords, fractions = fixed_point_maps(inverse, size, size)
    return cv2.remap(image, coords, fractions, cv2.INTER_LINEAR, dst=out, borderMode=border, borderValue=0)


def warp_rect(
    image: np.ndarray,
    center_x: float,
    center_y: float,
    width: float,
    height: float,
    rotation: float,
    size: int,
    border: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Resample a rotated rectangle (pixels, radians) of `image` to size x size uint8, like MediaPipe.

    border: cv2.BORDER_REPLICATE (landmark crops) or cv2.BORDER_CONSTANT with 0 (detector letterbox).
    """
    return resample(image, rect_inverse(center_x, center_y, width, height, rotation, size), size, border, out)
