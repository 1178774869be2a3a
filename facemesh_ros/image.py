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
# OpenCV 4 and 5) does the interpolation.

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


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_BLOCK_WIDTH = 64  # OpenCV 4's warp block: positions are accumulated from each block's first column


def _mapped_bound(inverse: np.ndarray, width: int, height: int) -> float:
    """Largest |coordinate| * 32 any output pixel maps to (a projective map is extreme at the corners)."""
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float)
    mapped = corners @ inverse.T
    if np.any(mapped[:, 2] <= 0):
        return np.inf
    return float(np.abs(mapped[:, :2] / mapped[:, 2:]).max()) * INTER_TAB_SIZE


def fixed_point_maps(inverse: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps (int16 x/y, uint16 1/32 fractions) for output pixel -> input position `inverse`.

    Per pixel, as OpenCV 4: depth = (m20 * block_x + m21 * y + m22) + m20 * dx, scale = 32 / depth,
    X = rint(((m00 * block_x + m01 * y + m02) + m00 * dx) * scale), same for Y; integer part = X >> 5.
    """
    grid = _GRIDS.get((width, height))
    if grid is None:
        columns = np.arange(width, dtype=np.float64)
        grid = (columns - columns % _BLOCK_WIDTH, columns % _BLOCK_WIDTH, np.arange(height, dtype=np.float64))
        _GRIDS[(width, height)] = grid
    block_x, offset_x, rows = grid
    m = inverse
    safe = _mapped_bound(inverse, width, height) < 30000 * INTER_TAB_SIZE  # no clamping needed (fast path)

    def accumulate(row: int) -> np.ndarray:
        value = np.add.outer(m[row, 1] * rows, m[row, 0] * block_x)  # (m0 * bx + m1 * y): same sum, commuted
        value += m[row, 2]
        value += m[row, 0] * offset_x
        return value

    scale = accumulate(2)
    if safe:
        np.divide(INTER_TAB_SIZE, scale, out=scale)
    else:
        nonzero = scale != 0
        np.divide(INTER_TAB_SIZE, scale, out=scale, where=nonzero)
        scale[~nonzero] = 0.0
    fixed = []
    for row in (0, 1):
        value = accumulate(row)
        value *= scale
        if not safe:
            limit = float(np.iinfo(np.int32).max)
            np.clip(value, -limit - 1, limit, out=value)
        fixed.append(np.rint(value, out=value).astype(np.int32))
    fx, fy = fixed
    coords = np.empty((height, width, 2), np.int16)
    if safe:
        coords[:, :, 0] = fx >> INTER_BITS
        coords[:, :, 1] = fy >> INTER_BITS
    else:
        coords[:, :, 0] = np.clip(fx >> INTER_BITS, -32768, 32767)
        coords[:, :, 1] = np.clip(fy >> INTER_BITS, -32768, 32767)
    fx &= INTER_TAB_SIZE - 1
    fy &= INTER_TAB_SIZE - 1
    fy *= INTER_TAB_SIZE
    fy += fx
    return coords, fy.astype(np.uint16)


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
    corners = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
    # forward then inverted, as OpenCV: exact rounding ties (letterbox scales like 941/128) fall alike
    forward = perspective_from_points(box_points(center_x, center_y, width, height, rotation), corners)
    inverse = invert_3x3(forward)
    coords, fractions = fixed_point_maps(inverse, size, size)
    return cv2.remap(image, coords, fractions, cv2.INTER_LINEAR, dst=out, borderMode=border, borderValue=0)
