"""Deterministic virtual camera moving over a real photo: smooth pan, zoom and roll; frames + intrinsics.

The photo is treated as taken by a pinhole camera with a vertical field of view `photo_fov_deg`. The virtual
camera looks at a moving point of the photo, magnifies by `zoom` (1 = the photo's height fills the frame) and
rolls about its optical axis. Frame i depends only on i and the options (no randomness), so tests, fixtures
and the demo see the same frames. Needs only numpy and OpenCV.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from facemesh_ros.image import fixed_point_maps


@dataclass(frozen=True)
class CameraFrame:
    """One rendered frame: RGB uint8 image, 3x3 intrinsics K and the camera pose over the photo."""

    index: int
    image: np.ndarray
    intrinsics: np.ndarray
    center: tuple[float, float]  # photo pixel at the frame centre
    zoom: float
    roll: float  # radians, positive = content turns clockwise on screen


class VirtualCamera:
    """Frames of size (width, height) over `photo` (H x W x 3 uint8 RGB), one smooth loop over num_frames.

    Path (t = index / num_frames): centre = target + pan * photo size * (sin 2 pi t, 0.5 sin 4 pi t);
    zoom goes zoom_min -> zoom_max -> zoom_min (cosine); roll = roll_deg * sin 2 pi t.
    """

    def __init__(
        self,
        photo: np.ndarray,
        size: tuple[int, int] = (1280, 720),
        num_frames: int = 60,
        target: tuple[float, float] | None = None,
        pan: float = 0.08,
        zoom_range: tuple[float, float] = (1.0, 1.5),
        roll_deg: float = 20.0,
        photo_fov_deg: float = 63.0,
    ) -> None:
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise ValueError(f"photo must be an H x W x 3 uint8 RGB array, got {photo.shape} {photo.dtype}")
        if num_frames < 1 or size[0] < 1 or size[1] < 1:
            raise ValueError(f"num_frames and size must be >= 1, got {num_frames} and {size}")
        self.photo = np.ascontiguousarray(photo)
        self.size = (int(size[0]), int(size[1]))
        self.num_frames = int(num_frames)
        photo_h, photo_w = photo.shape[:2]
        if target is None:
            target = (photo_w / 2.0, photo_h / 2.0)
        self.target = (float(target[0]), float(target[1]))
        self.pan = float(pan)
        self.zoom_range = (float(zoom_range[0]), float(zoom_range[1]))
        self.roll_deg = float(roll_deg)
        self.photo_focal = (photo_h / 2.0) / np.tan(np.radians(photo_fov_deg) / 2.0)

    @classmethod
    def from_config(cls, photo: np.ndarray, config: dict) -> VirtualCamera:
        """The camera a fixture's sequence config describes (its size, num_frames, target, pan, zoom_range and
        roll_deg: the keys the reference scripts store)."""
        return cls(
            photo,
            size=tuple(config["size"]),
            num_frames=config["num_frames"],
            target=tuple(config["target"]),
            pan=config["pan"],
            zoom_range=tuple(config["zoom_range"]),
            roll_deg=config["roll_deg"],
        )

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[CameraFrame]:
        return (self.frame(index) for index in range(self.num_frames))

    def pose(self, index: int) -> tuple[tuple[float, float], float, float]:
        """(centre in photo pixels, zoom, roll in radians) of frame `index`."""
        t = (index % self.num_frames) / self.num_frames
        photo_h, photo_w = self.photo.shape[:2]
        center = (
            self.target[0] + self.pan * photo_w * np.sin(2 * np.pi * t),
            self.target[1] + self.pan * photo_h * 0.5 * np.sin(4 * np.pi * t),
        )
        low, high = self.zoom_range
        zoom = low + (high - low) * 0.5 * (1.0 - np.cos(2 * np.pi * t))
        roll = np.radians(self.roll_deg) * np.sin(2 * np.pi * t)
        return (float(center[0]), float(center[1])), float(zoom), float(roll)

    def frame(self, index: int) -> CameraFrame:
        center, zoom, roll = self.pose(index)
        width, height = self.size
        scale = height / self.photo.shape[0] * zoom  # output pixels per photo pixel
        cos, sin = np.cos(roll) / scale, np.sin(roll) / scale
        # output pixel -> photo pixel: rotate by -roll about the frame centre, shrink, move to `center`
        out_to_photo = np.array(
            [
                [cos, sin, center[0] - cos * width / 2 - sin * height / 2],
                [-sin, cos, center[1] + sin * width / 2 - cos * height / 2],
            ]
        )
        # fixed-point maps + remap: the same pixels with any OpenCV version (fixtures come from another venv)
        coords, fractions = fixed_point_maps(np.vstack([out_to_photo, [0.0, 0.0, 1.0]]), width, height)
        image = cv2.remap(self.photo, coords, fractions, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        focal = self.photo_focal * scale
        intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
        return CameraFrame(index, image, intrinsics, center, zoom, roll)
