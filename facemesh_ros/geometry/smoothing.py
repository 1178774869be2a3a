"""Optional temporal smoothing of face geometry (off unless you create a smoother), driven by image stamps.

One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): an exponential low-pass whose cutoff rises with speed,
cutoff = min_cutoff + beta * |derivative|: steady targets while the head is still, little lag when it moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .frames import quaternion_from_rotation, rotation_from_quaternion
from .pipeline import FaceGeometry, checked_face_geometry
from .procrustes import Similarity


def _smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing weight of the new sample for a first-order low-pass at `cutoff` Hz."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Element-wise One-Euro filter over arrays of a fixed shape, with timestamps in seconds.

    A stamp that does not advance returns the last estimate; one that goes back in time (a replayed bag) or
    jumps forward by more than `max_gap` seconds (the face was lost) restarts the filter.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, max_gap: float = 1.0) -> None:
        if not (min_cutoff > 0 and beta >= 0 and d_cutoff > 0 and max_gap > 0):
            raise ValueError("need min_cutoff > 0, beta >= 0, d_cutoff > 0, max_gap > 0")
        self.min_cutoff, self.beta, self.d_cutoff, self.max_gap = min_cutoff, beta, d_cutoff, max_gap
        self.reset()

    def reset(self) -> None:
        self._value: np.ndarray | None = None
        self._derivative: np.ndarray | None = None
        self._stamp = 0.0

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value (None before the first sample)."""
        return self._value

    def __call__(self, value: np.ndarray, stamp: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        dt = stamp - self._stamp
        if self._value is not None and self._value.shape == value.shape and 0.0 <= dt <= self.max_gap:
            if dt == 0.0:
                return self._value.copy()
            derivative = (value - self._value) / dt
            self._derivative += _smoothing_factor(self.d_cutoff, dt) * (derivative - self._derivative)
            cutoff = self.min_cutoff + self.beta * np.abs(self._derivative)
            self._value = self._value + _smoothing_factor(cutoff, dt) * (value - self._value)
        else:
            self._value, self._derivative = value.copy(), np.zeros_like(value)
        self._stamp = stamp
        return self._value.copy()


class FaceGeometrySmoother:
    """Smooths one tracked face's pose (sellion position, rotation, scale) and, optionally, its landmarks.

    beta scales centimetres per second (positions, landmarks); rotation_beta scales quaternion units per
    second. Use one smoother per tracked face; call reset() when the track is lost.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.05,
        rotation_beta: float = 0.5,
        d_cutoff: float = 1.0,
        smooth_landmarks: bool = True,
        max_gap: float = 1.0,
    ) -> None:
        self._position = OneEuroFilter(min_cutoff, beta, d_cutoff, max_gap)
        self._rotation = OneEuroFilter(min_cutoff, rotation_beta, d_cutoff, max_gap)
        self._landmarks = OneEuroFilter(min_cutoff, beta, d_cutoff, max_gap) if smooth_landmarks else None

    def reset(self) -> None:
        for f in (self._position, self._rotation, self._landmarks):
            if f is not None:
                f.reset()

    def __call__(self, geometry: FaceGeometry, stamp: float) -> FaceGeometry:
        """The smoothed geometry for this frame (`stamp`: the image time in seconds)."""
        model, pose = geometry.model, geometry.pose
        quaternion = quaternion_from_rotation(pose.rotation)
        previous = self._rotation.value
        if previous is not None and float(quaternion @ previous) < 0:  # stay on one hemisphere
            quaternion = -quaternion
        quaternion = self._rotation(quaternion, stamp)
        rotation = rotation_from_quaternion(quaternion / np.linalg.norm(quaternion))
        smoothed = self._position(np.append(pose.apply(model.sellion), pose.scale), stamp)
        scale = float(smoothed[3])
        smooth_pose = Similarity(scale, rotation, smoothed[:3] - scale * (rotation @ model.sellion))
        metric = geometry.metric_landmarks
        if self._landmarks is not None:
            metric = self._landmarks(metric, stamp)
        return checked_face_geometry(smooth_pose, metric, model)


class TrackSmoothers:
    """A FaceGeometrySmoother per track id, for a pipeline that tracks several faces (FaceMesh's track_ids).

    A track that is missing from a frame is forgotten (its id is never reused by FaceMesh); a face without
    geometry passes through as None. Not thread-safe: call from one thread.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, **smoother_options: Any) -> None:
        self._options = dict(smoother_options, min_cutoff=min_cutoff, beta=beta)
        FaceGeometrySmoother(**self._options)  # fail here on bad options, not on the first face
        self._smoothers: dict[int, FaceGeometrySmoother] = {}

    def __call__(
        self, track_ids: Sequence[int] | np.ndarray, geometries: Sequence[FaceGeometry | None], stamp: float
    ) -> list[FaceGeometry | None]:
        """The frame's geometries smoothed per track (`stamp`: the image time in seconds)."""
        ids = [int(track_id) for track_id in track_ids]
        if len(ids) != len(geometries):
            raise ValueError(f"{len(ids)} track ids but {len(geometries)} geometries: one geometry per track")
        for gone in self._smoothers.keys() - set(ids):
            del self._smoothers[gone]
        smoothed: list[FaceGeometry | None] = []
        for track_id, geometry in zip(ids, geometries, strict=True):
            if geometry is None:
                smoothed.append(None)
                continue
            smoother = self._smoothers.get(track_id)
            if smoother is None:
                smoother = self._smoothers[track_id] = FaceGeometrySmoother(**self._options)
            smoothed.append(smoother(geometry, stamp))
        return smoothed

    def __len__(self) -> int:
        return len(self._smoothers)

    def reset(self) -> None:
        """Forget every track (the next frame starts every filter afresh)."""
        self._smoothers.clear()
