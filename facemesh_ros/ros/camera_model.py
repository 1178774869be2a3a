"""The camera model for each frame, from the latest sensor_msgs/CameraInfo.

camera_info is used when it matches the image size and is physically plausible; otherwise a camera with the
default vertical field of view is used, with one warning per kind of problem (missing, unusable, other size,
principal point off the sensor, implausible field of view, ROI or binning outside the sensor). A value that
changes with every message is still one kind: the warnings cannot flood the log or grow the node's memory.
"""

from __future__ import annotations

import math

import numpy as np
from rclpy.impl.rcutils_logger import RcutilsLogger
from sensor_msgs.msg import CameraInfo

from facemesh_ros.geometry import Camera, GeometryError
from facemesh_ros.ros.throttle import KindThrottle

# Fields of view (degrees, horizontal and vertical) a pinhole camera_info may describe. Below: a focal length
# no lens has (e.g. fx = 1e12 makes every face a point); above: the pinhole model's depth recovery fails
# (faces get no pose beyond ~165 deg). The default_vertical_fov_deg parameter has the same range.
PLAUSIBLE_FOV_DEG = (1.0, 160.0)
# How far (as a fraction of the sensor size) the principal point may lie outside the sensor: real lenses
# put it near the centre; cx = -1e6 puts every face at depth 0.
PRINCIPAL_POINT_MARGIN = 0.25


def _content_key(info: CameraInfo) -> tuple:
    """What defines the camera: drivers send a new, mostly identical, message with every frame. The arrays
    are compared as bytes: a tuple of numpy scalars costs far more to build and compare."""
    roi = info.roi
    return (
        info.width,
        info.height,
        info.distortion_model,
        np.asarray(info.k, np.float64).tobytes(),
        np.asarray(info.d, np.float64).tobytes(),
        np.asarray(info.p, np.float64).tobytes(),
        info.binning_x,
        info.binning_y,
        roi.x_offset,
        roi.y_offset,
        roi.width,
        roi.height,
    )


def implausible(info: CameraInfo, rectified: bool) -> tuple[str, str] | None:
    """(kind, reason) for the first value of `info` no real camera has, or None. Checked in the sensor's full
    resolution, before binning and ROI: a ROI's own principal point may well lie outside the ROI."""
    width, height, roi = info.width, info.height, info.roi
    if width == 0 or height == 0:
        return None  # Camera.from_camera_info reports a zero size
    if roi.width or roi.height:
        if roi.x_offset + roi.width > width or roi.y_offset + roi.height > height:
            return "region of interest", (
                f"{roi.width}x{roi.height} at ({roi.x_offset}, {roi.y_offset}) lies outside the {width}x{height} sensor"
            )
    if info.binning_x > width or info.binning_y > height:
        return "binning", f"{info.binning_x}x{info.binning_y} is larger than the {width}x{height} sensor"
    fx, fy, cx, cy = (
        (info.p[0], info.p[5], info.p[2], info.p[6]) if rectified else (info.k[0], info.k[4], info.k[2], info.k[5])
    )
    if not all(map(math.isfinite, (fx, fy, cx, cy))) or fx <= 0 or fy <= 0:
        return None  # Camera.from_camera_info reports these
    margin_x, margin_y = PRINCIPAL_POINT_MARGIN * width, PRINCIPAL_POINT_MARGIN * height
    if not (-margin_x <= cx <= width + margin_x and -margin_y <= cy <= height + margin_y):
        return "principal point", (
            f"({cx:g}, {cy:g}) lies outside the {width}x{height} sensor (by more than "
            f"{PRINCIPAL_POINT_MARGIN:.0%} of its size)"
        )
    low, high = PLAUSIBLE_FOV_DEG
    fov_x = math.degrees(2.0 * math.atan(width / (2.0 * fx)))
    fov_y = math.degrees(2.0 * math.atan(height / (2.0 * fy)))
    if not (low <= fov_x <= high and low <= fov_y <= high):
        return "field of view", (
            f"focal lengths fx={fx:g}, fy={fy:g} give a {fov_x:.3g} x {fov_y:.3g} deg field of "
            f"view on the {width}x{height} sensor (plausible: {low:g} to {high:g} deg)"
        )
    return None


class CameraModel:
    """Latest camera_info in, `Camera` per frame out (cached while the calibration does not change)."""

    def __init__(self, logger: RcutilsLogger) -> None:
        self._logger = logger
        self._warned = KindThrottle()
        self._info: CameraInfo | None = None
        self._cache: tuple[tuple, Camera] | None = None

    def update(self, info: CameraInfo) -> None:
        self._info = info

    def camera(self, width: int, height: int, rectified: bool, default_fov_deg: float) -> Camera:
        info = self._info
        key = (None if info is None else _content_key(info), rectified, default_fov_deg, width, height)
        if self._cache is None or self._cache[0] != key:
            camera = self._from_info(info, rectified, width, height, default_fov_deg)
            self._cache = (key, camera or Camera.from_fov(default_fov_deg, width, height))
        return self._cache[1]

    def _from_info(
        self, info: CameraInfo | None, rectified: bool, width: int, height: int, fov: float
    ) -> Camera | None:
        fallback = f"using the default {fov:g} deg camera"
        if info is None:
            self._warn_once(
                "missing",
                f"no camera_info received yet: geometry uses a default camera with a "
                f"{fov:g} deg vertical field of view until it arrives",
            )
            return None
        problem = implausible(info, rectified)
        if problem is not None:
            kind, reason = problem
            self._warn_once(kind, f"camera_info implausible ({kind}: {reason}): {fallback}")
            return None
        try:
            camera = Camera.from_camera_info(info, rectified=rectified)
        except GeometryError as error:
            self._warn_once("unusable", f"camera_info unusable ({error}): {fallback}")
            return None
        # compared after binning and ROI are applied: those describe a smaller image than width x height
        if (camera.width, camera.height) != (width, height):
            self._warn_once(
                "size",
                f"camera_info describes {camera.width}x{camera.height} images but they "
                f"are {width}x{height}: {fallback}",
            )
            return None
        return camera

    def _warn_once(self, kind: str, message: str) -> None:
        if self._warned.first(kind):
            self._logger.warning(message)
