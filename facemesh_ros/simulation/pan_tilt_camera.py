"""A simulated pan/tilt camera looking at a real photo, for closing the head-tracking loop without a robot.

The photo is the view of its own pinhole camera (vertical field of view `photo_fov_deg`) from the head's
position: its scene lies in directions around the head. A camera on a pan/tilt head (at the joint axes: a
camera turning about its own centre sees the exact homography K_out R K_photo^-1 of the photo, whatever the
scene's depth) renders what it sees at the head's angles (facemesh_ros.interaction.head_tracking's kinematics and
signs). The person "jumps" by turning the whole scene about the head: scene (yaw, pitch) is the direction of the
face from the head (yaw left, pitch down, radians; (0, 0) = straight ahead of the head at rest), and after
a jump the head must find it again. The servo follows position commands at its own speed limit.

Truth: `face_pixel` is where the face's sellion (a fixed photo pixel) lands in the rendered frame, so the
face's offset from the image centre is known exactly in every frame, independently of the face detector.
`settling` turns offsets over time into settle times and overshoot per jump.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facemesh_ros.interaction.head_tracking import OPTICAL_IN_LINK, PanTiltHead, rotation_y, rotation_z

ASTRONAUT_SELLION = (224.9, 100.5)  # photo pixel of astronaut.png's sellion (mesh vertex 168), measured once


def intrinsics(focal: float, width: int, height: int) -> np.ndarray:
    """3x3 pinhole intrinsics with the principal point at the image centre."""
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def scene_rotation(yaw: float, pitch: float) -> np.ndarray:
    """Scene frame -> head base frame: the scene turned left by yaw and down by pitch (radians)."""
    return rotation_z(yaw) @ rotation_y(pitch)


def _direction_angles(ray: np.ndarray) -> tuple[float, float]:
    """(yaw left, pitch down) of a ray in a body frame (x forward, y left, z up)."""
    return float(np.arctan2(ray[1], ray[0])), float(np.arctan2(-ray[2], np.hypot(ray[0], ray[1])))


class PanTiltCamera:
    """Renders `photo` (H x W x 3 uint8) as seen by a `size` camera of vertical field of view `fov_deg` on
    `head` (whose camera offsets must be zero: see the module docstring)."""

    def __init__(
        self,
        photo: np.ndarray,
        face_pixel: tuple[float, float],
        head: PanTiltHead | None = None,
        size: tuple[int, int] = (640, 480),
        fov_deg: float = 34.0,
        photo_fov_deg: float = 63.0,
    ) -> None:
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise ValueError(f"photo must be an H x W x 3 uint8 array, got {photo.shape} {photo.dtype}")
        self.head = head or PanTiltHead()
        if any(self.head.camera_xyz) or any(self.head.tilt_xyz):
            raise ValueError("the simulated camera turns about its own centre: camera_xyz and tilt_xyz must be 0")
        self.photo = np.ascontiguousarray(photo)
        self.size = (int(size[0]), int(size[1]))
        photo_h, photo_w = photo.shape[:2]
        photo_focal = (photo_h / 2.0) / np.tan(np.radians(photo_fov_deg) / 2.0)
        self.photo_k = intrinsics(photo_focal, photo_w, photo_h)
        self.k = intrinsics((self.size[1] / 2.0) / np.tan(np.radians(fov_deg) / 2.0), *self.size)
        self.face_photo = np.array([face_pixel[0], face_pixel[1], 1.0])
        # the scene frame has the face straight ahead (its x axis): scene (yaw, pitch) = the face's direction
        face_ray = OPTICAL_IN_LINK @ np.linalg.solve(self.photo_k, self.face_photo)
        self._photo_to_scene = scene_rotation(*_direction_angles(face_ray)).T

    def _camera_to_photo(self, angles: np.ndarray, scene: tuple[float, float] | np.ndarray) -> np.ndarray:
        """3x3 rotation: rays in the head camera's optical frame -> rays in the photo camera's optical frame."""
        camera_to_base = self.head.camera_pose(*angles)[:3, :3]
        return OPTICAL_IN_LINK.T @ self._photo_to_scene.T @ scene_rotation(*scene).T @ camera_to_base

    def render(self, angles: np.ndarray, scene: tuple[float, float] | np.ndarray = (0.0, 0.0)) -> np.ndarray:
        """The RGB frame at head angles (pan, tilt) with the scene turned by (yaw, pitch)."""
        homography = self.photo_k @ self._camera_to_photo(angles, scene) @ np.linalg.inv(self.k)
        return cv2.warpPerspective(
            self.photo,
            homography,
            self.size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(40, 40, 40),
        )

    def face_pixel(self, angles: np.ndarray, scene: tuple[float, float] | np.ndarray = (0.0, 0.0)) -> np.ndarray:
        """(u, v) of the face's sellion in the frame (it may lie outside the image)."""
        ray = self._camera_to_photo(angles, scene).T @ np.linalg.solve(self.photo_k, self.face_photo)
        pixel = self.k @ ray
        return pixel[:2] / pixel[2]

    def face_offset(self, angles: np.ndarray, scene: tuple[float, float] | np.ndarray = (0.0, 0.0)) -> np.ndarray:
        """The face's offset from the image centre, in fractions of the image width (x right, y down)."""
        return (self.face_pixel(angles, scene) - self.k[:2, 2]) / self.size[0]


class Servo:
    """A position-controlled joint pair: moves towards the last command at most `max_speed` rad/s."""

    def __init__(self, max_speed: tuple[float, float], start: tuple[float, float] | np.ndarray = (0.0, 0.0)) -> None:
        self.max_speed = np.asarray(max_speed, np.float64)
        self.angles = np.asarray(start, np.float64).copy()
        self.command = self.angles.copy()

    def step(self, dt: float) -> np.ndarray:
        limit = self.max_speed * dt
        self.angles += np.clip(self.command - self.angles, -limit, limit)
        return self.angles.copy()


@dataclass(frozen=True)
class JumpResult:
    """Settling after one jump of the face (see settling())."""

    time: float  # s, when the face jumped
    initial_offset: float  # fraction of the width, just after the jump
    settle_time: float | None  # s after the jump until the offset stays below the tolerance; None: never
    overshoot: float  # fraction of the width: how far the face went past the centre


def settling(
    times: np.ndarray, offsets: np.ndarray, jump_times: list[float], end: float, tolerance: float
) -> list[JumpResult]:
    """Per jump: the settle time (until |offset| stays below `tolerance` up to the next jump or `end`) and the
    overshoot (the largest offset opposite to the one just after the jump). times (T,), offsets (T, 2)."""
    times, offsets = np.asarray(times, np.float64), np.asarray(offsets, np.float64).reshape(-1, 2)
    results = []
    for jump, stop in zip(jump_times, [*jump_times[1:], end], strict=True):
        inside = (times >= jump) & (times < stop)
        if not np.any(inside):
            continue
        t, offset = times[inside], offsets[inside]
        magnitude = np.linalg.norm(offset, axis=1)
        direction = offset[0] / max(magnitude[0], 1e-12)
        overshoot = float(max(0.0, -np.min(offset @ direction)))
        outside = np.flatnonzero(magnitude >= tolerance)
        if len(outside) == 0:
            settle = 0.0
        elif outside[-1] == len(t) - 1:
            settle = None  # still off at the end of the segment
        else:
            settle = float(t[outside[-1] + 1] - jump)
        results.append(JumpResult(jump, float(magnitude[0]), settle, overshoot))
    return results
