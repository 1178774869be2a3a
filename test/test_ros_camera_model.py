"""The camera each frame gets from camera_info, and the fallbacks (real sensor_msgs/CameraInfo messages)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rclpy.logging import get_logger
from sensor_msgs.msg import CameraInfo, RegionOfInterest

from facemesh_ros.ros.camera_model import CameraModel

K = [800.0, 0.0, 639.5, 0.0, 800.0, 479.5, 0.0, 0.0, 1.0]


def info(width: int = 1280, height: int = 960, **fields) -> CameraInfo:
    msg = CameraInfo(
        width=width,
        height=height,
        distortion_model="plumb_bob",
        k=K,
        d=[0.0] * 5,
        p=[800.0, 0.0, 639.5, 0.0, 0.0, 800.0, 479.5, 0.0, 0.0, 0.0, 1.0, 0.0],
    )
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


@pytest.fixture
def model() -> CameraModel:
    return CameraModel(get_logger("camera_model_test"))


def test_calibrated_camera_info_is_used(model) -> None:
    model.update(info())
    camera = model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
    assert (camera.fx, camera.cx, camera.cy) == (800.0, 639.5, 479.5)


def test_binned_camera_info_matches_the_smaller_image(model) -> None:
    model.update(info(binning_x=2, binning_y=2))
    camera = model.camera(640, 480, rectified=False, default_fov_deg=63.0)
    assert camera.fx == pytest.approx(400.0) and camera.fy == pytest.approx(400.0)


@pytest.mark.parametrize("broken", [dict(k=[0.0] * 9), dict(k=[math.nan] * 9), dict(width=640, height=480)])
def test_unusable_or_mismatched_camera_info_falls_back_to_the_default_fov(model, broken) -> None:
    model.update(info(**broken))
    camera = model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
    assert camera.fy == pytest.approx(480 / math.tan(math.radians(31.5)))


def test_missing_camera_info_gives_the_default_fov(model) -> None:
    assert np.isclose(model.camera(640, 480, rectified=False, default_fov_deg=90.0).fy, 240.0)


def test_a_new_message_with_the_same_calibration_reuses_the_camera(model) -> None:
    model.update(info())
    first = model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
    model.update(info())
    assert model.camera(1280, 960, rectified=False, default_fov_deg=63.0) is first


class RecordingLogger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        self.warnings.append(message)


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        (dict(k=[800.0, 0.0, -1e6, 0.0, 800.0, 479.5, 0.0, 0.0, 1.0]), "principal point"),
        (dict(k=[1e12, 0.0, 639.5, 0.0, 1e12, 479.5, 0.0, 0.0, 1.0]), "field of view"),
        (dict(k=[1.0, 0.0, 639.5, 0.0, 1.0, 479.5, 0.0, 0.0, 1.0]), "field of view"),
        (dict(roi=RegionOfInterest(x_offset=1200, y_offset=0, width=640, height=480)), "outside the 1280x960 sensor"),
        (dict(binning_x=2000), "binning"),
    ],
)
def test_implausible_camera_info_gives_the_default_camera_and_one_warning(broken, says) -> None:
    logger = RecordingLogger()
    model = CameraModel(logger)
    model.update(info(**broken))
    camera = model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
    assert camera.fy == pytest.approx(480 / math.tan(math.radians(31.5)))
    assert len(logger.warnings) == 1 and says in logger.warnings[0], logger.warnings


def test_a_value_changing_every_frame_warns_once() -> None:
    logger = RecordingLogger()
    model = CameraModel(logger)
    for frame in range(150):
        model.update(info(k=[800.0, 0.0, -1e6 - frame, 0.0, 800.0, 479.5, 0.0, 0.0, 1.0]))
        model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
        model.update(info(width=640 + 2 * frame, height=480))  # another size with every message
        model.camera(1280, 960, rectified=False, default_fov_deg=63.0)
    assert len(logger.warnings) == 2, logger.warnings


def test_a_roi_inside_the_sensor_is_used() -> None:
    model = CameraModel(RecordingLogger())
    model.update(info(roi=RegionOfInterest(x_offset=0, y_offset=0, width=640, height=480)))
    camera = model.camera(640, 480, rectified=False, default_fov_deg=63.0)
    assert (camera.fx, camera.cx) == (800.0, 639.5)  # the crop's principal point may lie outside the crop
