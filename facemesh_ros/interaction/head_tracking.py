"""Pan/tilt head tracking without ROS: the head's kinematics, aiming the camera at a 3D point, and the
speed-limited setpoints that keep a face centred.

Frames (REP-103): the head's base frame has x forward, y left, z up. The pan joint turns about the base's z
axis (positive = to the left); the tilt joint, `tilt_xyz` from the pan axis, turns about the pan link's y axis
(positive = down, the right-hand rule about y = left). The camera's optical frame (x right, y down, z forward)
sits at `camera_xyz` in the tilt link, looking along the link's x axis, turned further by `camera_rpy`
(roll, pitch, yaw about the link's fixed x, y, z axes) for a camera mounted at an angle.

A camera that moves with the head sees the target at the joint angles the head had *when the image was taken*.
So the target is carried into the base frame with those angles (JointHistory), and the goal is the absolute
pair of angles that centres it there: the goal does not change while the head moves, and there is no
overshoot from the camera -> face_mesh -> tracker latency. The setpoints move towards the goal at most
`max_speed` per second, and a new goal closer than `dead_band` to the current one is ignored (the face's
jitter must not keep the head twitching).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

# optical axes (columns) in the tilt link: x right = -y, y down = -z, z forward = +x
OPTICAL_IN_LINK = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
AIM_ITERATIONS = 20
AIM_TOLERANCE = 1e-9  # radians


def rotation_x(angle: float) -> np.ndarray:
    """3x3 rotation by `angle` (rad) about the x axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    """3x3 rotation by `angle` (rad) about the y axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(angle: float) -> np.ndarray:
    """3x3 rotation by `angle` (rad) about the z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF's rpy: roll about x, then pitch about y, then yaw about z (fixed axes)."""
    return rotation_z(yaw) @ rotation_y(pitch) @ rotation_x(roll)


def _pair(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, np.float64).reshape(-1)
    if array.shape != (2,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be two finite numbers, got {values!r}")
    return array


def _vector3(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, np.float64).reshape(-1)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be three finite numbers, got {values!r}")
    return array


@dataclass(frozen=True)
class PanTiltHead:
    """A pan/tilt head with a camera on its tilt link. Angles in radians, lengths in metres."""

    pan_limits: tuple[float, float] = (-2.5, 2.5)
    tilt_limits: tuple[float, float] = (-0.8, 0.8)
    max_speed: tuple[float, float] = (2.0, 2.0)  # rad/s, pan and tilt
    tilt_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    _camera_rotation: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("pan_limits", "tilt_limits"):
            low, high = _pair(getattr(self, name), name)
            if not low < high:
                raise ValueError(f"{name}: the lower limit must be below the upper one, got {low}, {high}")
        if np.any(_pair(self.max_speed, "max_speed") <= 0):
            raise ValueError(f"max_speed must be > 0, got {self.max_speed}")
        _vector3(self.tilt_xyz, "tilt_xyz")
        _vector3(self.camera_xyz, "camera_xyz")
        rotation = rotation_rpy(*_vector3(self.camera_rpy, "camera_rpy")) @ OPTICAL_IN_LINK
        object.__setattr__(self, "_camera_rotation", rotation)

    @property
    def lower(self) -> np.ndarray:
        return np.array([self.pan_limits[0], self.tilt_limits[0]])

    @property
    def upper(self) -> np.ndarray:
        return np.array([self.pan_limits[1], self.tilt_limits[1]])

    def clip(self, angles: np.ndarray) -> np.ndarray:
        return np.clip(angles, self.lower, self.upper)

    def camera_pose(self, pan: float, tilt: float) -> np.ndarray:
        """4x4 camera optical frame -> base frame at these joint angles."""
        pan_rotation = rotation_z(pan)
        tilt_rotation = pan_rotation @ rotation_y(tilt)
        pose = np.eye(4)
        pose[:3, :3] = tilt_rotation @ self._camera_rotation
        pose[:3, 3] = pan_rotation @ np.asarray(self.tilt_xyz) + tilt_rotation @ np.asarray(self.camera_xyz)
        return pose

    def to_base(self, point_optical: np.ndarray, pan: float, tilt: float) -> np.ndarray:
        pose = self.camera_pose(pan, tilt)
        return pose[:3, :3] @ np.asarray(point_optical, np.float64) + pose[:3, 3]

    def to_optical(self, point_base: np.ndarray, pan: float, tilt: float) -> np.ndarray:
        pose = self.camera_pose(pan, tilt)
        return pose[:3, :3].T @ (np.asarray(point_base, np.float64) - pose[:3, 3])

    def aim(self, point_base: np.ndarray, start: np.ndarray) -> np.ndarray:
        """(pan, tilt) that put `point_base` on the camera's optical axis, from the guess `start`; not clipped.

        With the camera off the joint axes there is no closed form: each step turns the joints by the angles
        at which the camera sees the point (x right -> pan right, y down -> tilt down), which converges for
        any point farther from the camera than its offset from the axes.
        """
        angles = np.asarray(start, np.float64).copy()
        for _ in range(AIM_ITERATIONS):
            x, y, z = self.to_optical(point_base, *angles)
            step = np.array([-np.arctan2(x, z), np.arctan2(y, np.hypot(x, z))])
            angles += step
            if np.max(np.abs(step)) < AIM_TOLERANCE:
                break
        return angles


class JointHistory:
    """Recent (stamp, pan, tilt) samples of the head: its angles at the time an image was taken."""

    def __init__(self, horizon: float = 2.0) -> None:
        self.horizon = float(horizon)
        self._stamps: list[float] = []
        self._angles: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._stamps)

    def add(self, stamp: float, angles: np.ndarray) -> None:
        if self._stamps and stamp < self._stamps[-1]:  # time went backwards (a restarted simulation)
            self._stamps.clear()
            self._angles.clear()
        self._stamps.append(float(stamp))
        self._angles.append(np.asarray(angles, np.float64).copy())
        drop = bisect.bisect_left(self._stamps, self._stamps[-1] - self.horizon)
        del self._stamps[:drop], self._angles[:drop]

    def latest(self) -> np.ndarray | None:
        return self._angles[-1].copy() if self._angles else None

    def at(self, stamp: float) -> np.ndarray | None:
        """Angles at `stamp`, interpolated linearly; the nearest sample outside the history; None if empty."""
        if not self._stamps:
            return None
        index = bisect.bisect_left(self._stamps, stamp)
        if index == 0:
            return self._angles[0].copy()
        if index == len(self._stamps):
            return self._angles[-1].copy()
        t0, t1 = self._stamps[index - 1], self._stamps[index]
        w = (stamp - t0) / (t1 - t0) if t1 > t0 else 1.0
        return (1.0 - w) * self._angles[index - 1] + w * self._angles[index]


class HeadTracker:
    """Turns face targets (camera optical frame) into speed-limited pan/tilt setpoints."""

    def __init__(self, head: PanTiltHead, dead_band: float = np.radians(1.0)) -> None:
        if dead_band < 0:
            raise ValueError(f"dead_band must be >= 0, got {dead_band}")
        self.head = head
        self.dead_band = float(dead_band)
        self.goal: np.ndarray | None = None
        self.setpoint: np.ndarray | None = None

    def reset(self) -> None:
        self.goal = self.setpoint = None

    def on_target(self, point_optical: np.ndarray, angles_at_image: np.ndarray) -> bool:
        """A target seen by the camera while the head was at `angles_at_image`. True when the goal changed."""
        point_optical = np.asarray(point_optical, np.float64)
        if point_optical.shape != (3,) or not np.all(np.isfinite(point_optical)) or point_optical[2] <= 0:
            raise ValueError(f"a target must be a finite point in front of the camera (z > 0), got {point_optical}")
        angles_at_image = np.asarray(angles_at_image, np.float64)
        point_base = self.head.to_base(point_optical, *angles_at_image)
        desired = self.head.clip(self.head.aim(point_base, angles_at_image))
        if self.goal is not None and np.max(np.abs(desired - self.goal)) < self.dead_band:
            return False
        self.goal = desired
        return True

    def step(self, measured: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """The next (setpoint, velocity) after `dt` seconds; the setpoint starts at the `measured` angles and
        holds there until a first target arrives."""
        if self.setpoint is None:
            self.setpoint = self.head.clip(np.asarray(measured, np.float64))
        if self.goal is None or dt <= 0:
            return self.setpoint.copy(), np.zeros(2)
        limit = np.asarray(self.head.max_speed) * dt
        move = np.clip(self.goal - self.setpoint, -limit, limit)
        self.setpoint = self.head.clip(self.setpoint + move)
        return self.setpoint.copy(), move / dt
