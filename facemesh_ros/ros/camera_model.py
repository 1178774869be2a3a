"""The camera model for each frame, from the latest sensor_msgs/CameraInfo.

camera_info is used when it matches the image size and is valid; otherwise a camera with the default
vertical field of view is used, with one warning per kind of problem (missing, other size, uncalibrated).
"""

from __future__ import annotations

from rclpy.impl.rcutils_logger import RcutilsLogger
from sensor_msgs.msg import CameraInfo

from facemesh_ros.geometry import Camera, GeometryError


def _content_key(info: CameraInfo) -> tuple:
    """What defines the camera: drivers send a new, mostly identical, message with every frame."""
    roi = info.roi
    return (
        info.width,
        info.height,
        info.distortion_model,
        tuple(info.k),
        tuple(info.d),
        tuple(info.p),
        info.binning_x,
        info.binning_y,
        roi.x_offset,
        roi.y_offset,
        roi.width,
        roi.height,
    )


class CameraModel:
    """Latest camera_info in, `Camera` per frame out (cached while the calibration does not change)."""

    def __init__(self, logger: RcutilsLogger) -> None:
        self._logger = logger
        self._info: CameraInfo | None = None
        self._cache: tuple[tuple, Camera] | None = None
        self._warned: set[str] = set()

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
        if info is None:
            self._warn_once(
                "missing",
                f"no camera_info received yet: geometry uses a default camera with a "
                f"{fov:g} deg vertical field of view until it arrives",
            )
            return None
        try:
            camera = Camera.from_camera_info(info, rectified=rectified)
        except GeometryError as error:
            self._warn_once(f"invalid:{error}", f"camera_info unusable ({error}): using the default {fov:g} deg camera")
            return None
        # compared after binning and ROI are applied: those describe a smaller image than width x height
        if (camera.width, camera.height) != (width, height):
            self._warn_once(
                f"size{camera.width}x{camera.height}",
                f"camera_info describes {camera.width}x"
                f"{camera.height} images but they are {width}x{height}: using the default {fov:g} "
                "deg camera",
            )
            return None
        return camera

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._logger.warning(message)
