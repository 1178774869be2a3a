"""The primary face: the one face a robot should look at, chosen with hysteresis so that it does not flicker
between two similar faces. No ROS here.

A policy gives every face a score (higher = better, always > 0):
- "largest":  the area of its landmarks' box (a fraction of the image): the nearest face, in practice;
- "closest":  1 / its distance from the camera (needs the recovered 3D position);
- "centered": 1 / (0.05 + its distance from the image centre, in image widths).
The primary face is kept while it is tracked, unless another face scores at least `switch_ratio` times
higher for `switch_time` seconds without a break. When it is lost, the best face takes over at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facemesh_ros.roi import landmark_bounds

POLICIES = ("largest", "closest", "centered")


def policy_scores(policy: str, landmarks: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
    """(F,) scores of the faces for `policy`. landmarks: (F, N, 2+) normalized; positions: (F, 3) metres in
    the optical frame, NaN where unknown ("closest" scores such faces lowest)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    landmarks = np.asarray(landmarks)
    if len(landmarks) == 0:
        return np.zeros(0)
    if policy == "largest":
        low, high = landmark_bounds(landmarks[:, :, :2])
        extent = high.astype(np.float64) - low
        return np.maximum(extent[:, 0] * extent[:, 1], 1e-9)
    if policy == "centered":
        offsets = np.linalg.norm(landmarks[:, :, :2].astype(np.float64).mean(axis=1) - 0.5, axis=1)
        return 1.0 / (0.05 + offsets)
    if positions is None:
        raise ValueError("the 'closest' policy needs the faces' 3D positions")
    distances = np.linalg.norm(np.asarray(positions, np.float64).reshape(-1, 3), axis=1)
    return np.where(np.isfinite(distances) & (distances > 0), 1.0 / np.where(distances > 0, distances, 1.0), 1e-9)


class PrimaryFaceSelector:
    """Keeps one primary track id across frames (see the module docstring for the rule)."""

    def __init__(self, switch_ratio: float = 1.5, switch_time: float = 1.0) -> None:
        if switch_ratio < 1.0:
            raise ValueError(f"switch_ratio must be >= 1, got {switch_ratio}")
        if switch_time < 0.0:
            raise ValueError(f"switch_time must be >= 0, got {switch_time}")
        self.switch_ratio = float(switch_ratio)
        self.switch_time = float(switch_time)
        self.primary: int | None = None
        self._challenger: int | None = None
        self._challenger_since = 0.0

    def reset(self) -> None:
        self.primary = self._challenger = None

    def update(
        self, track_ids: Sequence[int] | np.ndarray, face_scores: Sequence[float] | np.ndarray, stamp: float
    ) -> int | None:
        """The primary track id after a frame at `stamp` (seconds) with these faces, or None without faces."""
        ids = [int(i) for i in track_ids]
        scores = np.asarray(face_scores, np.float64)
        if len(ids) != len(scores):
            raise ValueError(f"{len(ids)} track ids but {len(scores)} scores")
        if not ids:
            self.reset()
            return None
        best = ids[int(np.argmax(scores))]
        if self.primary not in ids:
            self.primary, self._challenger = best, None
            return self.primary
        current = scores[ids.index(self.primary)]
        if best == self.primary or scores[ids.index(best)] < self.switch_ratio * current:
            self._challenger = None
        elif best != self._challenger:
            self._challenger, self._challenger_since = best, stamp
        if self._challenger is not None and stamp - self._challenger_since >= self.switch_time:
            self.primary, self._challenger = self._challenger, None
        return self.primary
