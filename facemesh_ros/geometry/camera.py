"""The camera that turns MediaPipe normalized landmarks into MediaPipe's near-plane coordinates, and optical-frame
points back into pixels (to_near_plane and optical_to_pixels: both projection directions live here).

MediaPipe assumes a symmetric perspective camera (vertical FOV 63 deg, near plane 1) and maps a normalized
landmark (x, y, z) to the near plane as  x_n = (x - 1/2) w_n,  y_n = (1/2 - y) h_n,  z_n = z w_n,  with
h_n = 2 tan(fov/2), w_n = W h_n / H.  Writing f = H / h_n (the focal length in pixels) and u = x W, these are
x_n = (u - W/2) / f, y_n = -(v - H/2) / f, z_n = z W / f: a pinhole camera. This module generalises them to
any pinhole camera (fx, fy, cx, cy), optionally with lens distortion:

    x_n = (u - cx) / fx,   y_n = -(v - cy) / fy,   z_n = z W / fx    (near = 1; MediaPipe's y is up)

- Pixel convention: ROS/OpenCV intrinsics put pixel centres at integer coordinates, MediaPipe's normalized
  coordinates put the image edges at 0 and 1, so u = x W - 1/2 and v = y H - 1/2 (from_fov sets
  cx = W/2 - 1/2, which reproduces MediaPipe's formulas exactly).
- z: the landmark model outputs z in the same units as x inside its crop, and the crop is scaled back by
  the ROI width, so z W is a depth offset in horizontal pixels; like x it becomes metric through fx
  (z_n = z W / fx is the depth offset divided by the face's distance: the weak-perspective scale of x_n).
- Distortion: for a raw (unrectified) image the landmark pixels are undistorted first (cv2.undistortPoints,
  which returns the ideal normalized coordinates (u - cx)/fx directly). z is left as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .errors import FailureReason, GeometryError

MEDIAPIPE_VERTICAL_FOV_DEG = 63.0

# camera_info distortion models (sensor_msgs/distortion_models.hpp) and the coefficient counts OpenCV accepts.
PINHOLE_MODELS = ("plumb_bob", "rational_polynomial")
FISHEYE_MODEL = "equidistant"
_OPENCV_COEFF_COUNTS = (4, 5, 8, 12, 14)
# Undistortion iterations. Pinhole: OpenCV's default 5 leave ~0.2 px errors near the edges of a strongly
# distorted image; 12 fixed iterations reach ~1e-4 px (an EPS test would double the cost). Fisheye converges
# fast and stops on EPS.
_PINHOLE_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT, 12, 0.0)
_FISHEYE_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-12)


def _undistort_points_iter(
    pixels: np.ndarray, matrix: np.ndarray, coeffs: np.ndarray, criteria: tuple[int, int, float]
) -> np.ndarray:
    """cv2.undistortPoints with explicit iteration criteria: OpenCV 4.x names it undistortPointsIter (its
    undistortPoints takes no criteria), OpenCV 5 merged it into undistortPoints. Same algorithm, same result."""
    if hasattr(cv2, "undistortPointsIter"):
        # each branch is wrong for the other version's stubs
        return cv2.undistortPointsIter(pixels, matrix, coeffs, None, None, criteria)  # type: ignore[call-overload,unused-ignore]
    return cv2.undistortPoints(pixels, matrix, coeffs, criteria=criteria)  # type: ignore[call-overload,unused-ignore]


def _invalid(message: str) -> GeometryError:
    return GeometryError(FailureReason.INVALID_CAMERA, message)


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels (OpenCV/ROS convention), image size, optional distortion.

    Construct with `from_intrinsics`, `from_fov` or `from_camera_info`; invalid values raise GeometryError
    with reason INVALID_CAMERA, so an existing Camera can always project.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = ()  # empty or all zero: no distortion
    distortion_model: str = "plumb_bob"
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)
    _coeffs: np.ndarray | None = field(init=False, repr=False, compare=False)
    _near_gain: np.ndarray = field(init=False, repr=False, compare=False)
    _near_offset: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = _as_float(getattr(self, name))
            if not math.isfinite(value):
                raise _invalid(f"{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if self.fx <= 0 or self.fy <= 0:
            raise _invalid(
                f"focal lengths must be > 0, got fx={self.fx}, fy={self.fy} "
                "(an uncalibrated camera_info has K and P all zeros)"
            )
        for name in ("width", "height"):
            value = _as_int(getattr(self, name))
            if value <= 0:
                raise _invalid(f"image {name} must be > 0, got {value}")
            object.__setattr__(self, name, value)
        coeffs = _checked_distortion(self.distortion, self.distortion_model)
        matrix = np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])
        # Undistorted path as one multiply-add: x_n = x W/fx - (cx + 1/2)/fx, y_n = -y H/fy + (cy + 1/2)/fy.
        gain = np.array([self.width / self.fx, -self.height / self.fy, self.width / self.fx])
        offset = np.array([-(self.cx + 0.5) / self.fx, (self.cy + 0.5) / self.fy, 0.0])
        object.__setattr__(self, "_near_gain", gain)
        object.__setattr__(self, "_near_offset", offset)
        object.__setattr__(self, "distortion", tuple(float(c) for c in coeffs))
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "_coeffs", coeffs.copy() if np.any(coeffs) else None)

    # --- constructors -------------------------------------------------------------------------------------

    @classmethod
    def from_intrinsics(
        cls,
        fx: float,
        fy: float,
        cx: float,
        cy: float,
        width: int,
        height: int,
        distortion: Any = None,
        distortion_model: str = "plumb_bob",
    ) -> Camera:
        """Camera from pixel intrinsics; `distortion` = OpenCV coefficients (k1, k2, p1, p2[, k3, ...]) of the
        raw image, or 4 fisheye coefficients with distortion_model='equidistant'; None for no distortion."""
        coeffs = () if distortion is None else tuple(np.asarray(distortion, dtype=np.float64).ravel())
        return cls(fx, fy, cx, cy, width, height, coeffs, distortion_model)

    @classmethod
    def from_fov(cls, vertical_fov_deg: float, width: int, height: int) -> Camera:
        """MediaPipe's default camera: square pixels, principal point at the image centre, vertical FOV."""
        fov = _as_float(vertical_fov_deg)
        if not (math.isfinite(fov) and 0.0 < fov < 180.0):
            raise _invalid(f"vertical FOV must be in (0, 180) degrees, got {vertical_fov_deg!r}")
        width, height = _as_int(width), _as_int(height)
        if width <= 0 or height <= 0:
            raise _invalid(f"image size must be > 0, got {width} x {height}")
        focal = height / (2.0 * math.tan(math.radians(fov) / 2.0))
        return cls(focal, focal, width / 2.0 - 0.5, height / 2.0 - 0.5, width, height)

    @classmethod
    def from_camera_info(cls, msg: Any, *, rectified: bool) -> Camera:
        """Camera from a sensor_msgs/CameraInfo (duck-typed: width, height, k, d, p, distortion_model).

        rectified=True: the landmarks come from the rectified image (image_rect): use P's fx, fy, cx, cy and
        no distortion. P's Tx/Ty (stereo baseline) are ignored: results are in this camera's rectified frame,
        which is its optical frame for a monocular camera (R = identity).
        rectified=False: the landmarks come from the raw image (image_raw): use K and undistort with D.
        Binning (binning_x/y > 1) and, for raw images, a region of interest are honoured: the intrinsics are
        mapped to the binned/cropped image (pixel centres kept exact), and width/height become its size. A
        region of interest with rectified=True is not supported (GeometryError).
        """
        if not isinstance(rectified, bool):
            raise TypeError(f"rectified must be True (image_rect: P) or False (image_raw: K, D), got {rectified!r}")
        width, height = _as_int(getattr(msg, "width", 0)), _as_int(getattr(msg, "height", 0))
        binning, offset, size = _binning_and_roi(msg, width, height, rectified)
        d: tuple[float, ...]
        if rectified:
            p = _field_array(msg, ("p", "P"), 12)
            if p[1] != 0.0:
                raise _invalid(f"skewed P (P[1] = {p[1]}) is not supported")
            fx, fy, cx, cy, d, model = p[0], p[5], p[2], p[6], (), "plumb_bob"
        else:
            k = _field_array(msg, ("k", "K"), 9)
            if k[1] != 0.0:
                raise _invalid(f"skewed K (K[1] = {k[1]}) is not supported")
            raw_d = _first_attr(msg, ("d", "D"), None)
            d = () if raw_d is None else tuple(np.asarray(raw_d, dtype=np.float64).ravel())
            model = str(getattr(msg, "distortion_model", "") or "plumb_bob")
            fx, fy, cx, cy = k[0], k[4], k[2], k[5]
        # Full-resolution pixel u = (u_image + 1/2) b - 1/2 + offset, so the image's own intrinsics are
        # f / b and (c - offset + 1/2) / b - 1/2 (undistortion only sees (u - c) / f, which is unchanged).
        (bx, by), (ox, oy) = binning, offset
        return cls(
            fx / bx,
            fy / by,
            (cx - ox + 0.5) / bx - 0.5,
            (cy - oy + 0.5) / by - 0.5,
            size[0] // bx,
            size[1] // by,
            d,
            model,
        )

    # --- projection -----------------------------------------------------------------------------------------

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix K (a copy)."""
        return self._matrix.copy()

    @property
    def has_distortion(self) -> bool:
        return self._coeffs is not None

    def to_near_plane(self, landmarks: np.ndarray) -> np.ndarray:
        """(N, 3) normalized landmarks -> (N, 3) MediaPipe near-plane coordinates (near = 1, y up)."""
        near = landmarks * self._near_gain + self._near_offset
        if self._coeffs is not None:
            ideal = self._undistort_normalized(landmarks[:, :2], self._coeffs)
            near[:, 0] = ideal[:, 0]
            near[:, 1] = -ideal[:, 1]
        return near

    def optical_to_pixels(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points in the camera optical frame (x right, y down, z forward; z > 0, any unit) -> (N, 2)
        pixels of the image this camera describes, lens distortion applied: the inverse of to_near_plane."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if self._coeffs is None:
            return points[:, :2] / points[:, 2:] * (self.fx, self.fy) + (self.cx, self.cy)
        if self.distortion_model == FISHEYE_MODEL:
            pixels, _ = cv2.fisheye.projectPoints(points[None], np.zeros(3), np.zeros(3), self._matrix, self._coeffs)
        else:
            pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), self._matrix, self._coeffs)
        return pixels.reshape(-1, 2)

    def _undistort_normalized(self, xy: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
        pixels = (xy * (self.width, self.height) - 0.5).reshape(-1, 1, 2)
        if self.distortion_model == FISHEYE_MODEL:
            out = cv2.fisheye.undistortPoints(pixels, self._matrix, coeffs, criteria=_FISHEYE_UNDISTORT_CRITERIA)
        else:
            out = _undistort_points_iter(pixels, self._matrix, coeffs, _PINHOLE_UNDISTORT_CRITERIA)
        return out.reshape(-1, 2)


def _checked_distortion(distortion: tuple[float, ...], model: str) -> np.ndarray:
    """The coefficients as an array, or GeometryError(INVALID_CAMERA) for values the model cannot use."""
    coeffs = np.asarray(distortion, dtype=np.float64).ravel()
    if not np.all(np.isfinite(coeffs)):
        raise _invalid(f"distortion coefficients must be finite, got {distortion}")
    if model == FISHEYE_MODEL:
        if coeffs.size not in (0, 4):
            raise _invalid(f"'{FISHEYE_MODEL}' needs 4 coefficients, got {coeffs.size}")
    elif model in PINHOLE_MODELS or not np.any(coeffs):
        if np.any(coeffs) and coeffs.size not in _OPENCV_COEFF_COUNTS:
            raise _invalid(f"'{model}' needs 4, 5, 8, 12 or 14 coefficients, got {coeffs.size}")
    else:
        raise _invalid(
            f"unsupported distortion model {model!r} (supported: {', '.join((*PINHOLE_MODELS, FISHEYE_MODEL))})"
        )
    return coeffs


def _as_float(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise _invalid(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _invalid(f"expected a number, got {value!r}") from None


def _as_int(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise _invalid(f"image size must be integers, got {value!r}")


def _first_attr(msg: Any, names: tuple[str, ...], default: Any) -> Any:
    for name in names:
        if hasattr(msg, name):
            return getattr(msg, name)
    return default


def _field_array(msg: Any, names: tuple[str, ...], size: int) -> np.ndarray:
    value = _first_attr(msg, names, None)
    try:
        array = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.size != size:
        raise _invalid(f"camera_info.{names[0]} must have {size} numbers, got {value!r}")
    return array


def _binning_and_roi(
    msg: Any, width: int, height: int, rectified: bool
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(binning, ROI offset, ROI size) in full-resolution pixels; 0 binning or an all-zero ROI = none."""
    binning = (max(1, _as_int(getattr(msg, "binning_x", 0) or 0)), max(1, _as_int(getattr(msg, "binning_y", 0) or 0)))
    roi = getattr(msg, "roi", None)
    offset = (_as_int(getattr(roi, "x_offset", 0)), _as_int(getattr(roi, "y_offset", 0)))
    size = (_as_int(getattr(roi, "width", 0)), _as_int(getattr(roi, "height", 0)))
    if size == (0, 0):
        return binning, (0, 0), (width, height)
    if offset != (0, 0) or size != (width, height):
        if rectified:
            raise _invalid(f"a region of interest {offset} {size} with rectified=True is not supported")
        if min(offset) < 0 or min(size) <= 0:
            raise _invalid(f"invalid region of interest: offset {offset}, size {size}")
    return binning, offset, size
